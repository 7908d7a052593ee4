/** Horizontal whitespace: spaces, tabs, no-break and the Unicode space separators, but not newlines. */
const horizontalSpace = /[ \t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000\ufeff]+/g;

/**
 * Canonical article text: NFC, `\n` newlines, runs of spaces collapsed to one, lines trimmed,
 * at most one blank line between paragraphs, no leading or trailing blank space.
 */
export function normalizeWhitespace(text: string): string {
  return text
    .normalize('NFC')
    .replace(/\r\n?|[\u2028\u2029\u0085]/g, '\n')
    .replace(horizontalSpace, ' ')
    .replace(/ ?\n ?/g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}
