import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CuratorError } from '@curator/contracts';
import { extractArticle, normalizeWhitespace, resolveArticle } from '../src/index.ts';

const newsPage = readFileSync(new URL('./fixtures/news-page.html', import.meta.url), 'utf8');
const fetchOptions = { fetch: { timeoutMs: 2000, maxBytes: 100_000, maxRedirects: 3 } };

test('extractArticle returns the story as paragraphs without navigation, ads, comments or footer', async () => {
  const article = await extractArticle(newsPage, 'https://courier.example/news/sea-wall');
  assert.equal(article.title, 'Harbour town votes to rebuild its flooded sea wall');
  assert.equal(article.byline, 'By Maria Okafor, Local Affairs Reporter');
  assert.equal(article.lang, 'en-GB');
  assert.equal(article.siteName, 'The Coastal Courier');

  const paragraphs = article.text.split('\n\n');
  assert.equal(paragraphs.length, 5);
  assert.ok(paragraphs[0]?.startsWith('Residents of Port Ellery voted on Tuesday'));
  assert.ok(paragraphs[2]?.includes('“We have been patching this wall for forty years,”'));
  assert.ok(paragraphs[4]?.endsWith('will move to the old railway yard.'));
  for (const marker of ['NAVLINK', 'ADVERT', 'COMMENT', 'FOOTER', 'RELATED', 'TRACKING-SCRIPT-TEXT', '<p', 'dataLayer']) {
    assert.ok(!article.text.includes(marker), `article text contains ${marker}`);
  }
});

test('extractArticle keeps line breaks inside a paragraph and decodes entities', async () => {
  const html = `<html><head><title>Poem</title></head><body><article><h1>Poem</h1>
    <p>Roses &amp; violets,<br>the sea   is\tgrey,</p><p>and the tide comes in.${' Lorem ipsum dolor sit amet.'.repeat(20)}</p></article></body></html>`;
  const article = await extractArticle(html, 'https://poems.example/1');
  assert.ok(article.text.startsWith('Roses & violets,\nthe sea is grey,\n\nand the tide comes in.'), article.text);
});

test('extractArticle on a page without text is extraction_failed', async () => {
  await assert.rejects(
    extractArticle('<html><body><nav></nav></body></html>', 'https://empty.example/'),
    (error: unknown) => error instanceof CuratorError && error.code === 'extraction_failed',
  );
});

test('normalizeWhitespace collapses spaces, normalizes newlines and composes to NFC', () => {
  assert.equal(normalizeWhitespace('  a \t\u00a0 b  \r\nc\r\rd\n\n\n\n  e  '), 'a b\nc\n\nd\n\ne');
  assert.equal(normalizeWhitespace('Cafe\u0301'), 'Caf\u00e9');
  assert.equal(normalizeWhitespace(' \n\t '), '');
});

test('resolveArticle passes inline text through, normalized', async () => {
  const resolved = await resolveArticle({ text: '  First line.\r\n\r\n\r\nSecond\t\tline. ', title: ' A title ' }, fetchOptions);
  assert.deepEqual(resolved, { title: 'A title', text: 'First line.\n\nSecond line.', source: 'text' });
  await assert.rejects(resolveArticle({ text: ' \n ' }, fetchOptions), (error: unknown) => error instanceof CuratorError && error.code === 'bad_input');
});

test('resolveArticle refuses inline text over maxChars with text_too_long', async () => {
  const resolved = await resolveArticle({ text: 'x'.repeat(100) }, { ...fetchOptions, maxChars: 100 });
  assert.equal(resolved.text.length, 100);
  await assert.rejects(resolveArticle({ text: 'x'.repeat(101) }, { ...fetchOptions, maxChars: 100 }), (error: unknown) => error instanceof CuratorError && error.code === 'text_too_long');
});
