import { decodeEntity } from 'html-entities';

/*
 * A port of NLTK's TweetTokenizer (casual.py) as vendored in Hugging Face's tokenization_bertweet.py,
 * with preserve_case=True, reduce_len=False, strip_handles=False: the settings BERTweet's
 * normalization uses.
 *
 * The reference compiles its pattern with Python's `regex` module and the UNICODE flag, where
 * \w is the Unicode word class [\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}] (so ZWJ and
 * variation selectors are word characters) and \s is \p{White_Space}. JavaScript's \w, \s and \b
 * differ, so the classes are spelled out below.
 */

const WORD = String.raw`\p{Alphabetic}\p{M}\p{Nd}\p{Pc}\p{Join_Control}`;
// `[^\W\d_]` in the reference: a word character that is neither a digit nor "_".
const LETTER = String.raw`\p{Alphabetic}\p{M}\p{Join_Control}\u203F\u2040\u2054\uFE33\uFE34\uFE4D-\uFE4F\uFF3F`;
const DIGIT = String.raw`\p{Nd}`;
const SPACE = String.raw`\p{White_Space}`;

const EMOTICONS = String.raw`(?:[<>]?[:;=8][\-o*']?[)\](\[dDpP/:}{@|\\]|[)\](\[dDpP/:}{@|\\][\-o*']?[:;=8][<>]?|<3)`;

// John Gruber's URL pattern as modified in NLTK. The run of URL characters is written as
// `(?:char|(...)|(...))+` instead of the reference's `(?:char+|(...)|(...))+`: the same language,
// but without nested quantifiers, which backtrack exponentially in a JavaScript engine on
// inputs like "http://" followed by a long run of punctuation.
// Python's `regex` with IGNORECASE also lets [a-z] match 'İ' (U+0130); JavaScript's /iu does not.
const AZ = String.raw`a-z\u0130`;

const URLS = [
  String.raw`(?:https?:(?:/{1,3}|[${AZ}0-9%])|[${AZ}0-9.\-]+[.](?:[${AZ}]{2,13})/)`,
  String.raw`(?:[^${SPACE}()<>{}\[\]]|\([^${SPACE}()]*?\([^${SPACE}()]+\)[^${SPACE}()]*?\)|\([^${SPACE}]+?\))+`,
  String.raw`(?:\([^${SPACE}()]*?\([^${SPACE}()]+\)[^${SPACE}()]*?\)|\([^${SPACE}]+?\)|[^${SPACE}${'`'}!()\[\]{};:'".,<>?«»“”‘’])`,
  // Naked domains; the reference's \b after the TLD always follows a word character.
  String.raw`|(?:(?<!@)[${AZ}0-9]+(?:[.\-][${AZ}0-9]+)*[.](?:[${AZ}]{2,13})(?![${WORD}])/?(?!@))`,
].join('');

const PHONE_NUMBERS = String.raw`(?:(?:\+?[01][ *\-.)]*)?(?:[(]?\d{3}[ *\-.)]*)?\d{3}[ *\-.)]*\d{4})`.replaceAll(String.raw`\d`, DIGIT);

const HTML_TAGS = String.raw`<[^>${SPACE}]+>`;
const ASCII_ARROWS = String.raw`[\-]+>|<[\-]+`;
const USERNAMES = String.raw`(?:@[${WORD}_]+)`;
const HASHTAGS = String.raw`(?:#+[${WORD}_]+[${WORD}'_\-]*[${WORD}_]+)`;
const EMAILS = String.raw`[${WORD}.+\-]+@[${WORD}\-]+\.(?:[${WORD}\-]\.?)+[${WORD}\-]`;
const REMAINING_WORDS = [
  String.raw`(?:[${LETTER}](?:[${LETTER}]|['\-_])+[${LETTER}])`, // words with apostrophes or dashes
  String.raw`(?:[+\-]?[${DIGIT}]+[,/.:\-][${DIGIT}]+[+\-]?)`, // numbers, fractions, decimals
  String.raw`(?:[${WORD}_]+)`, // words without apostrophes or dashes
  String.raw`(?:\.(?:[${SPACE}]*\.){1,})`, // ellipsis dots
  String.raw`(?:[^${SPACE}])`, // anything else that is not whitespace
].join('|');

// Order matters: the first alternative that matches at a position wins, as in the reference.
const WORD_PATTERN = new RegExp(
  [URLS, PHONE_NUMBERS, EMOTICONS, HTML_TAGS, ASCII_ARROWS, USERNAMES, HASHTAGS, EMAILS, REMAINING_WORDS].join('|'),
  'giu',
);

// Runs of 4+ identical non-alphanumerics become 3: the reference does this so the pattern stays fast.
const HANG_PATTERN = /([^a-zA-Z0-9])\1{3,}/gu;

const ENTITY_PATTERN = /&(#?(x?))([^&;\p{White_Space}]+);/gu;

// Python's cp1252 codec leaves these bytes undefined, so the reference drops such references.
const CP1252_UNDEFINED = new Set([0x81, 0x8d, 0x8f, 0x90, 0x9d]);
const cp1252 = new TextDecoder('windows-1252');

/**
 * Replaces HTML character references the way NLTK's `_replace_html_entities` does with its
 * defaults: HTML 4 named references and numeric ones become characters, 0x80-0x9F are read as
 * Windows-1252, and anything it cannot convert is removed.
 */
export function replaceHtmlEntities(text: string): string {
  return text.replace(ENTITY_PATTERN, (_match, numeric: string, hex: string, body: string) => {
    if (numeric) {
      const valid = hex ? /^[0-9a-f]+$/i.test(body) : /^[0-9]+$/.test(body);
      if (!valid) return '';
      const codePoint = Number.parseInt(body, hex ? 16 : 10);
      if (codePoint >= 0x80 && codePoint <= 0x9f) {
        return CP1252_UNDEFINED.has(codePoint) ? '' : cp1252.decode(Uint8Array.of(codePoint));
      }
      return codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : '';
    }
    // Python's html.entities.name2codepoint is the HTML 4 list, which has no &apos;.
    if (body === 'apos' || !/^[a-z][a-z0-9]*$/i.test(body)) return '';
    const reference = `&${body};`;
    const decoded = decodeEntity(reference, { level: 'html4' });
    return decoded === reference ? '' : decoded;
  });
}

// Some alternatives (naked domains, numbers, emails) scan to the end of a whitespace-free run and
// then fail, at every position of it: quadratic, about a second for a 10,000-character run such
// as "a.a.a.a...". Runs longer than this get a token boundary every LONG_RUN characters, which
// bounds the cost; no real word or link is that long.
const LONG_RUN = 1000;
const LONG_RUN_PATTERN = new RegExp(`[^${SPACE}]{${LONG_RUN}}(?=[^${SPACE}])`, 'gu');

/** NLTK TweetTokenizer.tokenize with the defaults BERTweet uses (case kept, handles kept). */
export function tweetTokenize(text: string): string[] {
  const safeText = replaceHtmlEntities(text).replace(HANG_PATTERN, '$1$1$1').replace(LONG_RUN_PATTERN, '$& ');
  return Array.from(safeText.matchAll(WORD_PATTERN), (match) => match[0]);
}

/** Python's str.split() with no argument: Unicode whitespace plus the \x1c-\x1f separators. */
export const PYTHON_WHITESPACE = /[\p{White_Space}\x1c-\x1f]+/u;
