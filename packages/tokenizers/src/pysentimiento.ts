import { demojize } from './emoji-names.ts';

/*
 * The preprocessing finiteautomata/bertweet-base-sentiment-analysis was trained and is served
 * with: pysentimiento's `preprocess_tweet` for English with the analyzer's arguments
 * (pysentimiento 0.7.3, pysentimiento/preprocessing.py; `create_analyzer("sentiment", "en")`
 * passes user_token "@USER" and url_token "HTTPURL"). In order:
 *
 * 1. #hashtags -> "hashtag" + the tag split at capitals, lowercased ("#BlackLivesMatter" ->
 *    "hashtag black lives matter"); a tag needs an ASCII letter ("#2020" stays).
 * 2. Some characters are replaced or removed (curly quotes, dashes, "…", "♥" -> "❤️", ...).
 * 3. @handles -> "@USER" (the pattern takes at most 15 characters after the "@").
 * 4. Links -> "HTTPURL" (a domain with one of 26 endings; it needs a character before it).
 * 5. Any character repeated more than 3 times is cut to 3 ("sooooo" -> "sooo").
 * 6. Emoji -> " emoji <name words> emoji " (emoji.demojize with "|" delimiters, then every
 *    "|...|" span, which also catches text between two literal "|").
 * 7. Laughter ("hahaha", "ahaha") -> "haha".
 * 8. Leading and trailing whitespace is stripped.
 *
 * Python's `re` patterns are matched here by small scanners where a JavaScript regular expression
 * would backtrack quadratically on long runs of word characters; they find the same matches.
 */

// Python's \w for str patterns: letters, numbers and "_" (combining marks are not word characters).
const WORD = /[\p{L}\p{N}_]/u;
const isWord = (char: string | undefined): boolean => char !== undefined && WORD.test(char);
const isAsciiAlnum = (char: string | undefined): boolean => char !== undefined && char.length === 1 && /[a-zA-Z0-9]/.test(char);
// Python's str.strip() whitespace.
const PYTHON_SPACE_EDGES = /^[\p{White_Space}\x1c-\x1f]+|[\p{White_Space}\x1c-\x1f]+$/gu;

const CHARACTER_REPLACEMENTS: ReadonlyMap<string, string> = new Map(
  Object.entries({
    '~': '',
    '£': '',
    '¥': '',
    '¨': '"',
    '©': '',
    '«': '"',
    '°': '',
    '´': '',
    '¶': '',
    '·': '',
    º: '',
    '»': '"',
    '×': '',
    ا: '',
    '–': '',
    '—': '',
    '‘': '',
    '’': '',
    '“': '"',
    '”': '"',
    '•': '',
    '…': '',
    '‼': '!',
    '€': '$',
    '™': '',
    '●': '',
    '☠': '',
    '☹': '',
    '☺': '',
    '☻': '😃',
    '♀': '',
    '♂': '',
    '♡': '❤️',
    '♥': '❤️',
    '⚰': '',
    '⛱': '',
    '⛹': '',
    '✈': '',
    '✓': '',
    '❤': '',
    ー: '',
    '🕯': '',
    '🛰': '',
  }),
);

const URL_ENDINGS = ['com', 'co', 'org', 'edu', 'gov', 'uk', 'net', 'ca', 'de', 'jp', 'fr', 'au', 'us', 'ru', 'ch', 'it', 'nl', 'se', 'no', 'es', 'mil', 'iq', 'io', 'ac', 'ly', 'sm'];

/** `camel_to_human`: a space before every run of capitals, stripped, lowercased. */
function camelToHuman(tag: string): string {
  return tag.replace(/([A-Z]+)/g, ' $1').replace(PYTHON_SPACE_EDGES, '').toLowerCase();
}

/** `\B#(\w*[a-zA-Z]+\w*)` -> "hashtag <words>": the whole word run after "#", if it has an ASCII letter. */
function replaceHashtags(chars: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    if (chars[i] !== '#' || isWord(chars[i - 1])) {
      out.push(chars[i]!);
      continue;
    }
    let end = i + 1;
    while (end < chars.length && isWord(chars[end])) end++;
    const tag = chars.slice(i + 1, end);
    if (!tag.some((char) => /^[a-zA-Z]$/.test(char))) {
      out.push('#');
      continue;
    }
    out.push(...Array.from(`hashtag ${camelToHuman(tag.join(''))}`));
    i = end - 1;
  }
  return out;
}

function startsWithAt(chars: readonly string[], at: number, text: string): boolean {
  for (let k = 0; k < text.length; k++) if (chars[at + k] !== text[k]) return false;
  return true;
}

/** `(?:\w{1,}\.{1}){1,5}` then an ending then `(?:\/[a-zA-Z0-9]{1,})*` from `entry`: the match's end, or -1. */
function urlEndFrom(chars: readonly string[], entry: number): number {
  // Each part is a whole word run followed by a dot (a shorter run is followed by a word character).
  const partEnds: number[] = [];
  let at = entry;
  while (partEnds.length < 5) {
    let end = at;
    while (isWord(chars[end])) end++;
    if (end === at || chars[end] !== '.') break;
    at = end + 1;
    partEnds.push(at);
  }
  // Greedy: the most parts after which one of the endings follows.
  for (let parts = partEnds.length; parts >= 1; parts--) {
    const afterParts = partEnds[parts - 1]!;
    const ending = URL_ENDINGS.find((candidate) => startsWithAt(chars, afterParts, candidate));
    if (ending === undefined) continue;
    let end = afterParts + ending.length;
    while (chars[end] === '/' && isAsciiAlnum(chars[end + 1])) {
      end += 2;
      while (isAsciiAlnum(chars[end])) end++;
    }
    return end;
  }
  return -1;
}

/** End of the link that pysentimiento's URL pattern matches at `start`, or -1. */
function urlEnd(chars: readonly string[], start: number): number {
  // (?<=[^a-zA-Z0-9]): a character must come before, and not an ASCII letter or digit.
  if (start === 0 || isAsciiAlnum(chars[start - 1])) return -1;
  // The pattern's three ways in, tried in order: a scheme, an ASCII word and a dot, a word boundary.
  for (const scheme of ['http://', 'https://']) {
    if (startsWithAt(chars, start, scheme)) {
      const end = urlEndFrom(chars, start + scheme.length);
      if (end !== -1) return end;
    }
  }
  let ascii = start;
  while (isAsciiAlnum(chars[ascii])) ascii++;
  if (ascii > start && chars[ascii] === '.') {
    const end = urlEndFrom(chars, ascii + 1);
    if (end !== -1) return end;
  }
  return isWord(chars[start - 1]) !== isWord(chars[start]) ? urlEndFrom(chars, start) : -1;
}

function replaceUrls(chars: string[], token: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < chars.length; i++) {
    const end = urlEnd(chars, i);
    if (end === -1) {
      out.push(chars[i]!);
    } else {
      out.push(token);
      i = end - 1;
    }
  }
  return out;
}

/** `[ha][ha]+ah[ha]+` -> "haha": a run of h/a matches whole when it has "ah" with 2+ before and 1+ after. */
function normalizeLaughter(text: string): string {
  return text.replace(/[ha]+/g, (run) => {
    const ah = run.lastIndexOf('ah', run.length - 3);
    return ah >= 2 ? 'haha' : run;
  });
}

/** pysentimiento's `preprocess_tweet(text, lang="en", user_token="@USER", url_token="HTTPURL")`. */
export function preprocessTweet(text: string): string {
  let chars = replaceHashtags(Array.from(text));
  chars = chars.map((char) => CHARACTER_REPLACEMENTS.get(char) ?? char).flatMap((piece) => Array.from(piece));
  let out = replaceUrls(Array.from(chars.join('').replace(/@[a-zA-Z0-9_]{0,15}/g, '@USER')), 'HTTPURL').join('');
  // (.)\1\1+ with Python's "." (anything but \n).
  out = out.replace(/([^\n])\1{2,}/gu, '$1$1$1');
  out = demojize(out, ['|', '|']).replace(/\|([^|]+)\|/g, (_match, name: string) => ` emoji ${name.split('_').join(' ')} emoji `);
  return normalizeLaughter(out).replace(PYTHON_SPACE_EDGES, '');
}
