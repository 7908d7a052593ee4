import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { isCuratorError } from '@curator/contracts';
import { composeCard, escapeMarkup, hasColorEmojiFont, withoutEmoji } from '../src/index.ts';

const band = { r: 0x11, g: 0x11, b: 0x11 };

/** A mid-grey picture with a bright square, so band and picture are told apart. */
async function picture(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: 120, g: 140, b: 160 } } })
    .composite([{ input: { create: { width: 8, height: 8, channels: 3, background: '#ffffff' } }, top: 4, left: 4 }])
    .png()
    .toBuffer();
}

async function rgb(data: Buffer): Promise<{ pixels: Uint8Array; width: number; height: number }> {
  const { data: raw, info } = await sharp(data).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { pixels: new Uint8Array(raw.buffer, raw.byteOffset, raw.length), width: info.width, height: info.height };
}

/** Pixels of rows [top, bottom) that differ clearly from the band colour. */
function textPixels(image: { pixels: Uint8Array; width: number }, top: number, bottom: number): number {
  let count = 0;
  for (let y = top; y < bottom; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 3;
      if (Math.abs(image.pixels[i]! - band.r) + Math.abs(image.pixels[i + 1]! - band.g) + Math.abs(image.pixels[i + 2]! - band.b) > 90) count++;
    }
  }
  return count;
}

test('the card is the picture with a dark band above it carrying the headline', async () => {
  const card = await composeCard(await picture(256, 192), 'Markets rally as oil prices fall');
  assert.equal(card.contentType, 'image/png');
  const image = await rgb(card.data);
  assert.equal(card.width, 256);
  assert.equal(image.width, 256);
  assert.equal(image.height, card.height);
  assert.ok(card.bandHeight > 10 && card.height === card.bandHeight + 192);
  // Band corners are the band colour.
  for (const [x, y] of [[1, 1], [254, 1], [1, card.bandHeight - 2], [254, card.bandHeight - 2]] as const) {
    const i = (y * 256 + x) * 3;
    assert.deepEqual([image.pixels[i], image.pixels[i + 1], image.pixels[i + 2]], [band.r, band.g, band.b], `band at ${x},${y}`);
  }
  // The picture sits right under the band, untouched.
  const below = (card.bandHeight + 100) * 256 * 3 + 100 * 3;
  assert.deepEqual([image.pixels[below], image.pixels[below + 1], image.pixels[below + 2]], [120, 140, 160]);
  // Text was drawn in the band.
  assert.ok(textPixels(image, 0, card.bandHeight) > 100);
});

test('Greek, accents and emoji are drawn, not stripped', async () => {
  for (const headline of ['Ωμέγα: το πρωτάθλημα ξεκινά', 'Café crème à Zürich', '😀🎉🚀']) {
    const card = await composeCard(await picture(256, 128), headline);
    const image = await rgb(card.data);
    assert.ok(textPixels(image, 0, card.bandHeight) > 40, headline);
  }
});

test('line breaking is measured: wide glyphs wrap to more lines than narrow ones of the same count', async () => {
  const wide = await composeCard(await picture(256, 64), 'WWWW WWWW WWWW WWWW', { maxLines: 10 });
  const narrow = await composeCard(await picture(256, 64), 'iiii iiii iiii iiii', { maxLines: 10 });
  assert.ok(wide.lines > narrow.lines, `${wide.lines} vs ${narrow.lines}`);
  assert.ok(wide.bandHeight > narrow.bandHeight);
});

test('a long headline wraps to more lines and a taller band than a short one', async () => {
  const short = await composeCard(await picture(320, 64), 'Rain today');
  const long = await composeCard(await picture(320, 64), 'Parliament votes tonight on the long-awaited energy bill after weeks of debate');
  assert.equal(short.lines, 1);
  assert.ok(long.lines > short.lines);
  assert.ok(long.bandHeight > short.bandHeight);
  // Nothing is drawn outside the padding: the text fits the picture width.
  const image = await rgb(long.data);
  let outside = 0;
  for (let y = 0; y < long.bandHeight; y++) {
    for (const x of [0, 1, 318, 319]) if (textPixels({ pixels: image.pixels.subarray((y * 320 + x) * 3, (y * 320 + x) * 3 + 3), width: 1 }, 0, 1)) outside++;
  }
  assert.equal(outside, 0);
});

test('maxLines caps the band: the font shrinks, then the headline is cut', async () => {
  const headline = 'One two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen';
  const free = await composeCard(await picture(200, 64), headline, { maxLines: 20 });
  const capped = await composeCard(await picture(200, 64), headline, { maxLines: 2 });
  assert.ok(free.lines > 2);
  assert.ok(capped.lines <= 2, `${capped.lines} lines`);
  assert.ok(capped.bandHeight < free.bandHeight);
});

test('width, colours and format options', async () => {
  const card = await composeCard(await picture(256, 128), 'Resized', { width: 128, format: 'jpeg', bandColor: '#000080' });
  const meta = await sharp(card.data).metadata();
  assert.deepEqual([meta.format, meta.width, meta.height], ['jpeg', 128, card.height]);
  assert.equal(card.height, card.bandHeight + 64);
  assert.equal(card.contentType, 'image/jpeg');
  const image = await rgb(card.data);
  assert.ok(image.pixels[2]! > 100 && image.pixels[0]! < 30, 'navy band');
  const webp = await composeCard(await picture(64, 64), 'W', { format: 'webp' });
  assert.equal((await sharp(webp.data).metadata()).format, 'webp');
});

test('markup in a headline is text, and an empty headline is refused', async () => {
  assert.equal(escapeMarkup('<b>Tom & "Jerry"</b>'), '&lt;b&gt;Tom &amp; &quot;Jerry&quot;&lt;/b&gt;');
  const card = await composeCard(await picture(128, 64), '<span foreground="red">AT&T</span> <b>');
  assert.ok(card.bandHeight > 0);
  await assert.rejects(composeCard(await picture(64, 64), '   '), (e: unknown) => isCuratorError(e) && e.code === 'bad_input');
  await assert.rejects(composeCard(Buffer.from('not an image'), 'x'), (e: unknown) => isCuratorError(e) && e.code === 'bad_input');
});

/** Pixels in a box whose colour is clearly not grey (red, green, blue channels far apart). */
function colourfulPixels(image: { pixels: Uint8Array; width: number }, top: number, bottom: number): number {
  let count = 0;
  for (let y = top; y < bottom; y++) {
    for (let x = 0; x < image.width; x++) {
      const i = (y * image.width + x) * 3;
      const [r, g, b] = [image.pixels[i]!, image.pixels[i + 1]!, image.pixels[i + 2]!];
      if (Math.abs(r - g) + Math.abs(g - b) + Math.abs(r - b) > 90) count++;
    }
  }
  return count;
}

test('a badge marks the picture in its bottom-right corner; without one the corner is the picture', async () => {
  const plain = await rgb((await composeCard(await picture(256, 128), 'Harbour reopens')).data);
  const marked = await composeCard(await picture(256, 128), 'Harbour reopens', { badge: 'test models' });
  const image = await rgb(marked.data);
  const corner = (img: { pixels: Uint8Array }, x: number, y: number) => {
    const i = (y * 256 + x) * 3;
    return [img.pixels[i]!, img.pixels[i + 1]!, img.pixels[i + 2]!];
  };
  const y = marked.height - 8;
  assert.deepEqual(corner(plain, 250, y), [120, 140, 160], 'the picture itself');
  const [r, g, b] = corner(image, 250, y);
  assert.ok(r! < 80 && g! < 80 && b! < 80, `a dark badge box in the corner: ${[r, g, b]}`);
  // White label text inside the badge, and the opposite corner untouched.
  let white = 0;
  for (let yy = marked.height - 24; yy < marked.height - 4; yy++) for (let x = 160; x < 252; x++) if (corner(image, x, yy).every((c) => c > 200)) white++;
  assert.ok(white > 10, `label text drawn (${white} white pixels)`);
  assert.deepEqual(corner(image, 20, y), [120, 140, 160]);
});

test('emoji: each becomes a plain square when no colour emoji font is installed, and is counted', async () => {
  assert.deepEqual(withoutEmoji('Season starts 🎉 👍🏽 🇬🇷 👨‍👩‍👧 © ™ ok'), { text: 'Season starts □ □ □ □ © ™ ok', replaced: 4 });
  const card = await composeCard(await picture(256, 128), 'Goal 🎉 for the club ⚽', { colorEmoji: false });
  assert.equal(card.missingGlyphs, 2);
  assert.ok(textPixels(await rgb(card.data), 0, card.bandHeight) > 100, 'the headline is still drawn');
  // Whatever this machine has, a card with emoji is made; it says when it had to fall back.
  const auto = await composeCard(await picture(256, 128), '😀 Good news');
  assert.equal(auto.missingGlyphs, (await hasColorEmojiFont()) ? 0 : 1);
});

test('emoji are drawn in colour where the colour emoji font is installed (fonts-noto-color-emoji)', async (t) => {
  if (!(await hasColorEmojiFont())) return t.skip('no colour emoji font on this machine: apt-get install fonts-noto-color-emoji');
  const card = await composeCard(await picture(256, 128), '😀🎉🚀');
  assert.equal(card.missingGlyphs, 0);
  assert.ok(colourfulPixels(await rgb(card.data), 0, card.bandHeight) > 50);
});
