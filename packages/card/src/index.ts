import { fileURLToPath } from 'node:url';
import sharp, { type Metadata, type OverlayOptions } from 'sharp';
import { CuratorError } from '@curator/contracts';

export type CardFormat = 'png' | 'jpeg' | 'webp';

export interface CardOptions {
  /** Width of the card; the picture is resized to it (keeping its aspect). Default: the picture's width. */
  width?: number;
  /** Band colour behind the headline (CSS colour). Default a near-black. */
  bandColor?: string;
  textColor?: string;
  /** Pango family name; must match the font file when one is given. */
  fontFamily?: string;
  /** Font file to register; default the DejaVu Sans Bold shipped in assets/fonts. */
  fontFile?: string;
  /** Font size in pixels; default width / 16. */
  fontSize?: number;
  /** Lines the headline may take before the font shrinks and then the text is cut with an ellipsis. Default 3. */
  maxLines?: number;
  format?: CardFormat;
  /** A small label in the picture's bottom-right corner (e.g. "test models"), so the card cannot pass for real output. */
  badge?: string;
  /**
   * Draw emoji in colour (needs a colour emoji font such as Debian's `fonts-noto-color-emoji`).
   * Default: whether this machine has one. Without, each emoji becomes a plain "□" and
   * `missingGlyphs` counts them: the headline stays readable instead of showing hex boxes.
   */
  colorEmoji?: boolean;
}

export interface Card {
  data: Buffer;
  width: number;
  height: number;
  contentType: string;
  /** Height of the headline band above the picture. */
  bandHeight: number;
  lines: number;
  /** Emoji drawn as "□" because no colour emoji font is installed. */
  missingGlyphs: number;
}

export const defaultFontFile = fileURLToPath(new URL('../../../assets/fonts/DejaVuSans-Bold.ttf', import.meta.url));
export const defaultFontFamily = 'DejaVu Sans Bold';

const contentTypes: Record<CardFormat, string> = { png: 'image/png', jpeg: 'image/jpeg', webp: 'image/webp' };

/** Pango markup is XML: the headline is text, never markup. */
export function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

interface RenderedText {
  data: Buffer;
  width: number;
  height: number;
}

interface TextStyle {
  family: string;
  fontFile: string;
  color: string;
  wrapWidth: number;
}

/** Renders text with Pango, wrapped at word boundaries to `wrapWidth` measured pixels, centred. */
async function renderText(text: string, size: number, style: TextStyle): Promise<RenderedText> {
  const { data, info } = await sharp({
    text: {
      text: `<span foreground="${escapeMarkup(style.color)}">${escapeMarkup(text)}</span>`,
      font: `${style.family} ${size}`,
      fontfile: style.fontFile,
      width: style.wrapWidth,
      wrap: 'word-char',
      align: 'centre',
      dpi: 72, // points == pixels
      rgba: true, // colour emoji and the markup colour
    },
  })
    .png()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height };
}

/** Lines in a rendering, from the pitch of one and two reference lines at the same size. */
async function lineMetrics(size: number, style: TextStyle): Promise<{ first: number; pitch: number }> {
  const one = await renderText('Ág', size, style);
  const two = await renderText('Ág\nÁg', size, style);
  return { first: one.height, pitch: Math.max(1, two.height - one.height) };
}

function countLines(height: number, metrics: { first: number; pitch: number }): number {
  return Math.max(1, 1 + Math.round((height - metrics.first) / metrics.pitch));
}

/** An emoji as one grapheme: pictographs with emoji presentation, ZWJ sequences, skin tones, flags. */
const emojiPattern = /\p{Regional_Indicator}{2}|(?:\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F)(?:[\u{1F3FB}-\u{1F3FF}])?(?:\u200D(?:\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F?)(?:[\u{1F3FB}-\u{1F3FF}])?)*/gu;
export const missingEmojiPlaceholder = '□';

/** Replaces every emoji with a plain square, counting them. */
export function withoutEmoji(text: string): { text: string; replaced: number } {
  let replaced = 0;
  const out = text.replace(emojiPattern, () => {
    replaced++;
    return missingEmojiPlaceholder;
  });
  return { text: out, replaced };
}

let colorEmojiAvailable: Promise<boolean> | null = null;

/**
 * Whether fontconfig finds a colour emoji font: an emoji rendered in white comes out in colour
 * only from a colour font (without one Pango draws a white hex box or a monochrome glyph).
 */
export function hasColorEmojiFont(): Promise<boolean> {
  colorEmojiAvailable ??= (async () => {
    const { data } = await renderText('😀', 32, { family: defaultFontFamily, fontFile: defaultFontFile, color: '#ffffff', wrapWidth: 64 });
    const { data: raw, info } = await sharp(data).raw().toBuffer({ resolveWithObject: true });
    let colourful = 0;
    for (let i = 0; i < raw.length; i += info.channels) {
      const [r, g, b, a] = [raw[i]!, raw[i + 1]!, raw[i + 2]!, info.channels === 4 ? raw[i + 3]! : 255];
      if (a > 128 && Math.abs(r - g) + Math.abs(g - b) + Math.abs(r - b) > 90) colourful++;
    }
    return colourful > 20;
  })();
  return colorEmojiAvailable;
}

/** The badge: small white text on a translucent dark box, to place in a corner. */
async function renderBadge(label: string, width: number, style: TextStyle): Promise<{ data: Buffer; width: number; height: number }> {
  const size = Math.max(8, Math.round(width / 32));
  const text = await renderText(label, size, { ...style, color: '#ffffff', wrapWidth: Math.max(16, width - 8) });
  const padding = Math.max(2, Math.round(size / 3));
  const boxWidth = Math.min(width, text.width + 2 * padding);
  const boxHeight = text.height + 2 * padding;
  const data = await sharp({ create: { width: boxWidth, height: boxHeight, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 0.65 } } })
    .composite([{ input: text.data, top: padding, left: padding }])
    .png()
    .toBuffer();
  return { data, width: boxWidth, height: boxHeight };
}

/**
 * A dark band above the picture carrying the headline, wrapped to the picture's width by measured
 * text width (Pango) and centred.
 */
export async function composeCard(image: Buffer, headline: string, options: CardOptions = {}): Promise<Card> {
  const given = headline.replace(/\s+/g, ' ').trim();
  if (given.length === 0) throw new CuratorError('bad_input', 'The headline is empty');
  const colorEmoji = options.colorEmoji ?? (await hasColorEmojiFont());
  const { text, replaced } = colorEmoji ? { text: given, replaced: 0 } : withoutEmoji(given);
  const format = options.format ?? 'png';
  if (!(format in contentTypes)) throw new CuratorError('bad_input', `Unsupported card format "${String(format)}"`);

  let picture = sharp(image).removeAlpha();
  let meta: Metadata;
  try {
    meta = await sharp(image).metadata();
  } catch (error) {
    throw new CuratorError('bad_input', `The picture cannot be read: ${(error as Error).message}`, { cause: error });
  }
  let width = meta.width;
  let height = meta.height;
  if (options.width && options.width !== width) {
    height = Math.max(1, Math.round((height * options.width) / width));
    width = options.width;
    picture = picture.resize(width, height);
  }
  const pictureData = await picture.toBuffer();

  const padding = Math.max(4, Math.round(width * 0.04));
  const style: TextStyle = {
    family: options.fontFamily ?? defaultFontFamily,
    fontFile: options.fontFile ?? defaultFontFile,
    color: options.textColor ?? '#ffffff',
    wrapWidth: Math.max(16, width - 2 * padding),
  };
  const maxLines = Math.max(1, options.maxLines ?? 3);
  const startSize = Math.max(8, Math.round(options.fontSize ?? width / 16));
  const minSize = Math.max(8, Math.round(startSize * 0.7));

  // Shrink the font until the headline fits maxLines; past the smallest size, cut words and add an ellipsis.
  let size = startSize;
  let rendered = await renderText(text, size, style);
  let metrics = await lineMetrics(size, style);
  let lines = countLines(rendered.height, metrics);
  while (lines > maxLines && size > minSize) {
    size = Math.max(minSize, Math.round(size * 0.9));
    rendered = await renderText(text, size, style);
    metrics = await lineMetrics(size, style);
    lines = countLines(rendered.height, metrics);
  }
  if (lines > maxLines) {
    const words = text.split(' ');
    let low = 1;
    let high = words.length - 1;
    let best: RenderedText | null = null;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const candidate = await renderText(`${words.slice(0, middle).join(' ')}…`, size, style);
      if (countLines(candidate.height, metrics) <= maxLines) {
        best = candidate;
        low = middle + 1;
      } else high = middle - 1;
    }
    rendered = best ?? (await renderText(`${[...words[0]!].slice(0, 12).join('')}…`, size, style));
    lines = countLines(rendered.height, metrics);
  }

  const bandHeight = rendered.height + 2 * padding;
  const bandColor = options.bandColor ?? '#111111';
  const layers: OverlayOptions[] = [
    { input: rendered.data, top: padding, left: Math.max(0, Math.round((width - rendered.width) / 2)) },
    { input: pictureData, top: bandHeight, left: 0 },
  ];
  if (options.badge) {
    const badge = await renderBadge(options.badge, width, style);
    const margin = Math.max(2, Math.round(width * 0.02));
    layers.push({ input: badge.data, top: Math.max(bandHeight, bandHeight + height - badge.height - margin), left: Math.max(0, width - badge.width - margin) });
  }
  const card = sharp({ create: { width, height: bandHeight + height, channels: 3, background: bandColor } }).composite(layers);
  const encoded = format === 'png' ? card.png() : format === 'jpeg' ? card.jpeg({ quality: 90 }) : card.webp({ quality: 90 });
  const data = await encoded.toBuffer();
  return { data, width, height: bandHeight + height, contentType: contentTypes[format], bandHeight, lines, missingGlyphs: replaced };
}
