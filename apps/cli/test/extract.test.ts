import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { registerExtractCommand, type CommandIo } from '../src/commands/extract.ts';

const newsPage = fileURLToPath(new URL('../../../packages/articles/test/fixtures/news-page.html', import.meta.url));

let directory: string;
let server: Server;
let origin: string;

before(async () => {
  directory = await mkdtemp(join(tmpdir(), 'curator-cli-extract-'));
  server = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' }).end('Served  over\r\nHTTP.');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await rm(directory, { recursive: true, force: true });
});

async function runExtract(...args: string[]): Promise<{ stdout: string; stderr: string; exitCode: number | undefined }> {
  let stdout = '';
  let stderr = '';
  let exitCode: number | undefined;
  const io: CommandIo = { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text), fail: (code) => void (exitCode = code) };
  const program = new Command().name('curator').exitOverride();
  registerExtractCommand(program, io);
  await program.parseAsync(['extract', ...args], { from: 'user' });
  return { stdout, stderr, exitCode };
}

/** The extract command in a process of its own, as `curator extract` runs. */
function runCliProcess(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const script = `
    import { Command } from 'commander';
    import { registerExtractCommand } from './src/commands/extract.ts';
    const program = new Command().name('curator');
    registerExtractCommand(program);
    await program.parseAsync(process.argv.slice(1), { from: 'user' });
  `;
  const cliRoot = fileURLToPath(new URL('..', import.meta.url));
  return new Promise((resolve) => {
    const child = execFile(process.execPath, ['--input-type=module', '-e', script, ...args], { cwd: cliRoot, timeout: 120_000 }, (_error, stdout, stderr) =>
      resolve({ code: child.exitCode, stdout, stderr }),
    );
  });
}

test('extract prints the article of a local HTML file as JSON', async () => {
  const file = join(directory, 'story.html');
  await copyFile(newsPage, file);
  const { stdout, stderr, exitCode } = await runExtract(file);
  assert.equal(stderr, '');
  assert.equal(exitCode, undefined);
  const output = JSON.parse(stdout) as Record<string, unknown>;
  assert.deepEqual(Object.keys(output).sort(), ['byline', 'lang', 'text', 'title']);
  assert.equal(output.title, 'Harbour town votes to rebuild its flooded sea wall');
  assert.equal(output.byline, 'By Maria Okafor, Local Affairs Reporter');
  assert.equal(output.lang, 'en-GB');
  assert.ok(typeof output.text === 'string' && output.text.startsWith('Residents of Port Ellery'));
  assert.ok(!(output.text as string).includes('COMMENT'));
});

test('extract passes a text file through, normalized, and sniffs HTML without an extension', async () => {
  const textFile = join(directory, 'story.txt');
  await writeFile(textFile, '  Line one.\r\n\r\n\r\nLine   two. ');
  assert.deepEqual(JSON.parse((await runExtract(textFile)).stdout), { title: null, text: 'Line one.\n\nLine two.' });

  const unnamed = join(directory, 'story');
  await copyFile(newsPage, unnamed);
  assert.equal(JSON.parse((await runExtract(unnamed)).stdout).title, 'Harbour town votes to rebuild its flooded sea wall');
});

test('extract of a URL refuses loopback unless --allow-private', async () => {
  const blocked = await runExtract(`${origin}/story`);
  assert.equal(blocked.stdout, '');
  assert.match(blocked.stderr, /^fetch_blocked: /);
  assert.equal(blocked.exitCode, 1);

  const allowed = await runExtract(`${origin}/story`, '--allow-private');
  assert.equal(allowed.stderr, '');
  assert.deepEqual(JSON.parse(allowed.stdout), { title: null, text: 'Served over\nHTTP.' });
});

test('a pathologically nested page is refused with extraction_budget_exceeded instead of stalling the command', async () => {
  const file = join(directory, 'deep.html');
  await writeFile(file, `<html><body>${'<div>'.repeat(100_000)}<p>deep</p>${'</div>'.repeat(100_000)}</body></html>`);
  const { stdout, stderr, exitCode } = await runExtract(file);
  assert.equal(stdout, '');
  assert.match(stderr, /^extraction_budget_exceeded: The page at file:.*deep\.html nests elements deeper than the 256-level limit/);
  assert.equal(exitCode, 1);
});

test('a failing extract exits 1 with the code on stderr in a real process', async () => {
  const result = await runCliProcess(['extract', join(directory, 'does-not-exist.html')]);
  assert.equal(result.code, 1);
  assert.equal(result.stdout, '');
  assert.match(result.stderr, /^bad_input: Cannot read .*does-not-exist\.html/);
});

test('a real process extracts a page in a thread and exits when done', async () => {
  const file = join(directory, 'story-for-process.html');
  await copyFile(newsPage, file);
  const result = await runCliProcess(['extract', file]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(JSON.parse(result.stdout).title, 'Harbour town votes to rebuild its flooded sea wall');
});
