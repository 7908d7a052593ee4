import { createRequire } from 'node:module';

/*
 * What Python's `emoji.demojize` (emoji 2.x, English) returns for a single code point, which is
 * all BERTweet's normalization ever passes it. Names come from emojibase-data's English CLDR
 * labels turned into the emoji package's form: ':' + label without ':', ',', '“', '”',
 * spaces as '_' + ':' ("grinning face" -> ":grinning_face:", "A button (blood type)" ->
 * ":A_button_(blood_type):"). Checked against emoji 2.16.0 over every code point: all 1,400
 * single-code-point emoji emojibase-data 17 knows get the same name; the differences are listed here.
 */

interface CompactEmoji {
  unicode: string;
  label: string;
  skins?: CompactEmoji[];
}

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
};

const VARIATION_SELECTORS = /[\uFE0E\uFE0F]/gu;
// emojibase labels the lone regional indicators; the emoji package leaves them as they are.
const REGIONAL_INDICATOR = /^[\u{1F1E6}-\u{1F1FF}]$/u;

let namesByCodePoint: Map<string, string> | undefined;

function emojiPackageName(label: string): string {
  return `:${label.replace(/[:,“”]/gu, '').trim().replace(/\s+/gu, '_')}:`;
}

function loadNames(): Map<string, string> {
  const require = createRequire(import.meta.url);
  const data = require('emojibase-data/en/compact.json') as CompactEmoji[];
  const names = new Map<string, string>();
  const add = (emoji: CompactEmoji): void => {
    const bare = emoji.unicode.replace(VARIATION_SELECTORS, '');
    if (isSingleCodePoint(bare) && !REGIONAL_INDICATOR.test(bare)) names.set(bare, emojiPackageName(emoji.label));
  };
  for (const emoji of data) {
    add(emoji);
    for (const skin of emoji.skins ?? []) add(skin);
  }
  for (const [emoji, name] of Object.entries(NOT_YET_IN_EMOJIBASE)) if (!names.has(emoji)) names.set(emoji, `:${name}:`);
  return names;
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
  namesByCodePoint ??= loadNames();
  return namesByCodePoint.get(codePoint) ?? codePoint;
}
