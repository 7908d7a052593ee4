import { createRequire } from 'node:module';

/*
 * Python's `emoji` package (2.x, English) in two forms: `demojizeCodePoint`, what BERTweet's
 * normalization asks it for one code point at a time, and `demojize`, its whole-string
 * `emoji.demojize` (sequences, skin tones, flags, ZWJ), which pysentimiento's preprocessing uses.
 *
 * Names come from emojibase-data's English CLDR labels turned into the emoji package's form:
 * ':' + label without ':', ',', '“', '”', spaces as '_' + ':' ("grinning face" ->
 * ":grinning_face:", "A button (blood type)" -> ":A_button_(blood_type):"), with the emoji
 * package's own choices where they differ: flags drop "flag: " (and "Congo - Kinshasa" is
 * "Congo-Kinshasa"), three flags carry other names, and "facing right" comes before the skin tone.
 * Checked against emoji 2.16.0: every one of its 5,244 emoji gets the same name
 * (packages/reference/tokenizers/emoji-demojize.json.gz holds its answers).
 */

interface CompactEmoji {
  /** The code points in hex, joined by '-', with U+FE0F where a sequence's fully-qualified form has one. */
  hexcode: string;
  label: string;
  skins?: CompactEmoji[];
}

const SKIN_TONES: ReadonlyArray<readonly [string, string]> = [
  ['\u{1F3FB}', 'light_skin_tone'],
  ['\u{1F3FC}', 'medium-light_skin_tone'],
  ['\u{1F3FD}', 'medium_skin_tone'],
  ['\u{1F3FE}', 'medium-dark_skin_tone'],
  ['\u{1F3FF}', 'dark_skin_tone'],
];

// Emoji 17.0 characters emoji 2.16 already names but emojibase-data 17 does not list yet.
const NOT_YET_IN_EMOJIBASE: Record<string, string> = {
  '\u{1F6D9}': 'lighthouse',
  '\u{1FA8B}': 'meteor',
  '\u{1FA8C}': 'eraser',
  '\u{1FA8D}': 'net_with_handle',
  '\u{1FACC}': 'monarch_butterfly',
  '\u{1FADD}': 'pickle',
  '\u{1FAEB}': 'cracking_face',
  '\u{1FAF9}': 'leftwards_thumb_sign',
  '\u{1FAFA}': 'rightwards_thumb_sign',
  ...Object.fromEntries(
    ['\u{1FAF9}', '\u{1FAFA}'].flatMap((hand) =>
      SKIN_TONES.map(([tone, toneName]) => [`${hand}${tone}`, `${hand === '\u{1FAF9}' ? 'leftwards' : 'rightwards'}_thumb_sign_${toneName}`]),
    ),
  ),
};

// The emoji package names these flags after the territory's longer name.
const FLAG_NAMES: Record<string, string> = {
  '\u{1F1F9}\u{1F1EB}': 'French_Southern_and_Antarctic_Lands',
  '\u{1F1ED}\u{1F1F2}': 'Heard_Island_&_McDonald_Islands',
  '\u{1F1F8}\u{1F1ED}': 'St._Helena_Ascension_&_Tristan_da_Cunha',
};

// Skin tone modifiers and hair styles: the emoji package's "component" status.
const COMPONENTS = new Set(['\u{1F3FB}', '\u{1F3FC}', '\u{1F3FD}', '\u{1F3FE}', '\u{1F3FF}', '\u{1F9B0}', '\u{1F9B1}', '\u{1F9B2}', '\u{1F9B3}']);

const VARIATION_SELECTORS = /[\uFE0E\uFE0F]/gu;
const ZWJ = '\u200D';
// emojibase labels the lone regional indicators; the emoji package leaves them as they are.
const REGIONAL_INDICATOR = /^[\u{1F1E6}-\u{1F1FF}]$/u;

function emojiPackageName(label: string): string {
  let name = label;
  if (name.startsWith('flag: ')) name = name.slice('flag: '.length).replaceAll(' - ', '-');
  // "man running: dark skin tone, facing right" -> "man running facing right dark skin tone"
  name = name.replace(/^(.*): (.*skin tones?), facing right$/u, '$1 facing right $2');
  return name.replace(/[:,“”]/gu, '').trim().replace(/\s+/gu, '_');
}

interface TrieNode {
  name?: string;
  /** Whether U+FE0F may come next: the emoji's fully-qualified form has one here. */
  selectorMayFollow?: boolean;
  next: Map<string, TrieNode>;
}

let names: Map<string, string> | undefined;
let trie: TrieNode | undefined;

/**
 * The fully-qualified form of an emoji: emojibase's hexcode has the U+FE0F of sequences; a single
 * code point takes one when it is shown as text by default (Emoji_Presentation=No).
 */
function fullyQualified(hexcode: string): string {
  const emoji = String.fromCodePoint(...hexcode.split('-').map((hex) => Number.parseInt(hex, 16)));
  return isSingleCodePoint(emoji) && !/\p{Emoji_Presentation}/u.test(emoji) ? `${emoji}\uFE0F` : emoji;
}

/** Every emoji emojibase knows in its fully-qualified form, with its emoji-package name. */
function fullyQualifiedEmoji(): Map<string, string> {
  const require = createRequire(import.meta.url);
  const data = require('emojibase-data/en/compact.json') as CompactEmoji[];
  const table = new Map<string, string>();
  const add = (emoji: CompactEmoji): void => {
    const qualified = fullyQualified(emoji.hexcode);
    const bare = qualified.replace(VARIATION_SELECTORS, '');
    if (!REGIONAL_INDICATOR.test(bare)) table.set(qualified, FLAG_NAMES[bare] ?? emojiPackageName(emoji.label));
    for (const skin of emoji.skins ?? []) add(skin);
  };
  for (const emoji of data) add(emoji);
  for (const [emoji, name] of Object.entries(NOT_YET_IN_EMOJIBASE)) table.set(emoji, name);
  return table;
}

function load(): void {
  const root: TrieNode = { next: new Map() };
  const bareNames = new Map<string, string>();
  for (const [emoji, name] of fullyQualifiedEmoji()) {
    bareNames.set(emoji.replace(VARIATION_SELECTORS, ''), name);
    let node = root;
    for (const codePoint of emoji) {
      if (codePoint === '\uFE0F') {
        node.selectorMayFollow = true;
        continue;
      }
      let child = node.next.get(codePoint);
      if (!child) node.next.set(codePoint, (child = { next: new Map() }));
      node = child;
    }
    node.name = name;
  }
  names = bareNames;
  trie = root;
}

/** Every emoji the emoji package knows, variation selectors removed, with its name (no colons). */
function emojiNames(): Map<string, string> {
  if (!names) load();
  return names!;
}

function emojiTrie(): TrieNode {
  if (!trie) load();
  return trie!;
}

export function isSingleCodePoint(text: string): boolean {
  const first = text.codePointAt(0);
  return first !== undefined && text.length === (first > 0xffff ? 2 : 1);
}

/**
 * `emoji.demojize` for one code point: an emoji becomes ":its_name:", a lone variation selector
 * disappears (as in the emoji package), anything else is returned unchanged.
 */
export function demojizeCodePoint(codePoint: string): string {
  if (codePoint === '\uFE0E' || codePoint === '\uFE0F') return '';
  // ASCII is never an emoji on its own ('#', '*' and digits only in keycap sequences).
  if (codePoint.charCodeAt(0) < 0x80) return codePoint;
  const name = emojiNames().get(codePoint);
  return name === undefined ? codePoint : `:${name}:`;
}

interface Piece {
  /** The code points of the text this piece covers. */
  text: string[];
  /** The emoji's name, when the piece is an emoji. */
  name?: string;
}

/**
 * Python emoji's `demojize(text, delimiters)` (emoji 2.x, English): each emoji, longest match
 * first, becomes its name between the delimiters. Follows the package's tokenizer: a ZWJ
 * sequence it does not know is named part by part with the ZWJs kept, variation selectors
 * outside an emoji are dropped. An emoji matches with or without each U+FE0F of its
 * fully-qualified form (the package lists the qualified, minimally qualified and unqualified forms).
 */
export function demojize(text: string, delimiters: readonly [string, string] = [':', ':']): string {
  const root = emojiTrie();
  const chars = Array.from(text);
  const skipped = new Set<number>(); // ZWJs between emoji the package does not know as one
  const out: string[] = [];
  let pending: Piece[] = [];
  const render = (piece: Piece): string => (piece.name === undefined ? piece.text.join('') : `${delimiters[0]}${piece.name}${delimiters[1]}`);
  const flush = (): void => {
    for (const piece of pending) out.push(render(piece));
    pending = [];
  };
  const isEmoji = (piece: Piece): boolean => emojiNames().has(piece.text.join('').replace(VARIATION_SELECTORS, ''));

  let i = 0;
  while (i < chars.length) {
    const char = chars[i]!;
    let consumed = false;
    if (skipped.has(i)) {
      i++;
      if (char === ZWJ) pending.push({ text: [char] });
      continue;
    }
    const first = root.next.get(char);
    if (first) {
      let node = first;
      let j = i + 1;
      while (j < chars.length) {
        if (skipped.has(j)) break;
        const next = chars[j]!;
        if (next === '\uFE0F' && node.selectorMayFollow) {
          j++;
          continue;
        }
        const child = node.next.get(next);
        if (!child) break;
        node = child;
        j++;
      }
      if (node.name !== undefined) {
        pending.push({ text: chars.slice(i, j), name: node.name });
        i = j - 1;
        consumed = true;
      }
    } else if (char === ZWJ && pending.length > 0 && isEmoji(pending.at(-1)!) && i > 0 && root.next.has(chars[i - 1]!)) {
      // A ZWJ after an emoji that did not match as part of a longer one: name the parts one by one.
      skipped.add(i);
      const last = pending.at(-1)!;
      if (COMPONENTS.has(last.text.join('').replace(VARIATION_SELECTORS, ''))) {
        i -= pending.slice(-2).reduce((length, piece) => length + piece.text.length, 0);
        if (chars[i] === ZWJ) {
          i++;
          pending.pop();
        } else {
          pending.splice(-2);
        }
      } else {
        i -= last.text.length;
        pending.pop();
      }
      continue;
    } else if (pending.length > 0) {
      flush();
    }
    if (!consumed && char !== '\uFE0E' && char !== '\uFE0F') pending.push({ text: [char] });
    i++;
  }
  flush();
  return out.join('');
}
