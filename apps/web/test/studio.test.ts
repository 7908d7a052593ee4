// The studio in Debian's Chromium (playwright-core), against the real system: the gateway and a
// worker on the generated test models, Redis, the embedded S3 server. The page is served as the
// gateway will serve it (studioHeaders: strict CSP, caching), on one origin with the API.
//
// STUDIO_SCREENSHOTS_DIR=docs/screenshots saves the main states as PNGs (`npm run screenshots -w @curator/web`).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { CuratorClient } from '@curator/client';
import { startSystem, withApiKey, type RunningSystem } from '../../../packages/client/test/support/system.ts';
import { ensureWebBuild, studioContentSecurityPolicy } from '../src/index.ts';
import { startStudioServer, type StudioServer } from './support/studio-server.ts';

const chromiumPath = '/usr/bin/chromium';
// This machine's Chromium needs the background-networking switches off (nothing may leave loopback).
const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const inCi = Boolean(process.env.CI);
const skip = !existsSync(chromiumPath) && !inCi ? `Chromium is not installed at ${chromiumPath} (apt-get install -y chromium); these tests always run in CI` : false;
const screenshotsDir = process.env.STUDIO_SCREENSHOTS_DIR ? resolve(process.env.STUDIO_SCREENSHOTS_DIR) : null;
const maxArticleChars = 4000;
/** A term the deployment's content policy refuses (CONTENT_POLICY_TERMS). */
const blockedTerm = 'forbiddenword';

const desktop = { width: 1280, height: 900 };
const phone = { width: 390, height: 844 };
const article =
  'Fishermen returned to the harbour at dawn as repairs to the old sea wall ended. Shops on the quay reopened, the ferry ran again, and the town council promised a festival for the summer.';

let system: RunningSystem;
let studio: StudioServer;
let context: BrowserContext;
let profileDir: string;
let page: Page;
let axeSource: string;
const pageErrors: string[] = [];
/** Refusals the browser reports on the console: the CSP's, Trusted Types'. */
const policyErrors: string[] = [];

/** Records what the CSP refused and every layout shift, from before the page's own scripts run. */
function watchPage(): void {
  const w = window as unknown as { __csp: string[]; __shifts: Array<{ value: number; at: number; input: boolean }> };
  w.__csp = [];
  w.__shifts = [];
  document.addEventListener('securitypolicyviolation', (event) => w.__csp.push(`${event.violatedDirective} ${event.blockedURI} ${event.sample} at ${event.sourceFile}:${event.lineNumber}`));
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries() as unknown as Array<{ value: number; startTime: number; hadRecentInput: boolean }>) w.__shifts.push({ value: entry.value, at: entry.startTime, input: entry.hadRecentInput });
  }).observe({ type: 'layout-shift', buffered: true });
}

async function screenshot(name: string, fullPage = false): Promise<void> {
  if (!screenshotsDir) return;
  await mkdir(screenshotsDir, { recursive: true });
  await page.screenshot({ path: join(screenshotsDir, `${name}.png`), fullPage, animations: 'disabled', caret: 'hide' });
}

/** axe-core, evaluated into the page through the DevTools protocol (an injected <script> would break the CSP). */
async function assertAccessible(state: string): Promise<void> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: Document, options: object) => Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
    const result = await axe.run(document, { resultTypes: ['violations'] });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, targets: v.nodes.map((n) => n.target.join(' ')) }));
  });
  const serious = violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  assert.deepEqual(serious, [], `axe-core found serious violations (${state})`);
}

async function assertNoCspViolations(): Promise<void> {
  assert.deepEqual(await page.evaluate(() => (window as unknown as { __csp: string[] }).__csp), []);
}

async function openStudio(hash = ''): Promise<void> {
  await page.goto(`${studio.url}/${hash}`);
  await page.locator('#form-title').waitFor();
}

async function fillCard(options: { text?: string; title?: string; prefix?: string; size?: number; steps?: number; seed?: number }): Promise<void> {
  await page.getByLabel('Pasted text').check();
  await page.locator('#f-input-text').fill(options.text ?? article);
  if (options.title !== undefined) await page.locator('#f-input-title').fill(options.title);
  if (options.prefix !== undefined) await page.locator('#f-params-imagePrefix').fill(options.prefix);
  if (options.seed !== undefined) await page.locator('#f-params-seed').fill(String(options.seed));
  if (options.size !== undefined) {
    await page.locator('#f-params-image-width').fill(String(options.size));
    await page.locator('#f-params-image-height').fill(String(options.size));
  }
  if (options.steps !== undefined) await page.locator('#f-params-image-steps').fill(String(options.steps));
}

/** The stages the rerun took from the cache, as the studio names them (set by the rerun test). */
let reusedLabels = '';
/** The first card made (256 px: the phone screenshot shows it). */
let firstCardId = '';
/** Submits the form; the view must move to the new job (a refusal shown in the form fails with its words). */
async function submitForm(name: string | RegExp = 'Make the card', by: 'click' | 'enter' = 'click'): Promise<void> {
  const refusal = () => document.querySelector('.job-form .problem, .job-form .error-summary')?.textContent ?? null;
  const before = { hash: await page.evaluate(() => location.hash), refusal: await page.evaluate(refusal) };
  if (by === 'click') await page.getByRole('button', { name, exact: true }).click();
  else await page.keyboard.press('Enter');
  // A refusal counts when it differs from one already on screen before this submit.
  const moved = page.waitForFunction((previous) => location.hash.startsWith('#/jobs/') && location.hash !== previous, before.hash).then(() => 'job' as const);
  const refused = page
    .waitForFunction((previous) => {
      const now = document.querySelector('.job-form .problem, .job-form .error-summary')?.textContent ?? null;
      return now !== null && now !== previous;
    }, before.refusal)
    .then(() => 'refused' as const);
  // The wait that loses the race ends with the page later: its rejection is expected, not an error.
  for (const wait of [moved, refused]) wait.catch(() => undefined);
  const outcome = await Promise.race([moved, refused]);
  if (outcome === 'refused') assert.fail(`the form was refused: ${await page.evaluate(refusal)}`);
  await page.locator('#job-title').waitFor();
}

const jobIdInView = async () => (await page.evaluate(() => location.hash)).replace('#/jobs/', '');

describe('the web studio in Chromium, against the real gateway and worker', { skip }, () => {
  before(async () => {
    if (!existsSync(chromiumPath)) throw new Error(`CI runs the browser tests: Chromium is missing at ${chromiumPath} (add chromium to .ci/apt-packages)`);
    const build = await ensureWebBuild();
    system = await startSystem({ vars: { MAX_ARTICLE_CHARS: String(maxArticleChars), CONTENT_POLICY_TERMS: blockedTerm } });
    // Once the gateway serves the studio itself (its web plugin), the test uses it; until then a
    // server of the same files and headers stands in front of it.
    const servesStudio = (await fetch(`${system.url}/`)).headers.get('content-type')?.startsWith('text/html') ?? false;
    studio = servesStudio
      ? { url: system.url, close: async () => undefined }
      : await startStudioServer({ distDir: build.dir, gatewayUrl: system.url, imageOrigins: [system.environment.env.S3_ENDPOINT!] });
    axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
    profileDir = await mkdtemp(join(tmpdir(), 'curator-chromium-'));
    context = await chromium.launchPersistentContext(profileDir, { executablePath: chromiumPath, args: chromiumArgs, viewport: desktop, reducedMotion: 'reduce' });
    // Generous: on a loaded machine a model stage can take long (tests assert behaviour, not speed).
    context.setDefaultTimeout(180_000);
    await context.addInitScript(watchPage);
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy|Trusted Type/i.test(message.text())) policyErrors.push(message.text());
    });
  });

  after(async () => {
    await context?.close();
    if (profileDir) await rm(profileDir, { recursive: true, force: true });
    await studio?.close();
    await system?.close();
  });

  test('the studio is served with a strict Content-Security-Policy, caching headers, and no inline code', async () => {
    const index = await fetch(`${studio.url}/`);
    assert.equal(index.headers.get('content-security-policy'), studioContentSecurityPolicy({ imageOrigins: [system.environment.env.S3_ENDPOINT!] }));
    assert.match(index.headers.get('content-security-policy')!, /script-src 'self';/);
    assert.doesNotMatch(index.headers.get('content-security-policy')!, /unsafe-inline|unsafe-eval/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /<style|\sstyle=/, 'no inline style');
    const asset = /src="(\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const script = await fetch(`${studio.url}${asset}`);
    assert.equal(script.headers.get('cache-control'), 'public, max-age=31536000, immutable');
  });

  test('submit an article and see the card: picture, headline, scores, stage times, models, test-model mark', async () => {
    await openStudio();
    await assertAccessible('empty form, desktop');
    await screenshot('desktop-form');
    await fillCard({ title: 'Harbour reopens', size: 256, steps: 8, seed: 11 });
    await submitForm();
    // The view moves to the job, and so does the focus.
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'job-title');
    const card = page.locator('.result-card');
    await card.waitFor({ timeout: 120_000 });
    assert.equal(await page.locator('.job-head .status-chip').textContent(), 'Done');
    firstCardId = await jobIdInView();
    assert.ok((await card.locator('.headline').textContent())!.trim().length > 0);
    assert.equal(await card.locator('.article-title cite').textContent(), 'Harbour reopens');
    const picture = card.locator('.card-picture img');
    await page.waitForFunction(() => (document.querySelector('.card-picture img') as HTMLImageElement | null)?.complete === true);
    assert.ok(await picture.evaluate((img: HTMLImageElement) => img.naturalWidth > 0), 'the card picture loaded from S3');
    assert.match((await card.locator('.test-models').textContent())!, /Test models/);
    const scores = (await card.locator('.scores .score-value').allTextContents()).map((text) => Number.parseInt(text, 10));
    assert.deepEqual(scores, [...scores].sort((a, b) => b - a), 'highest score first');
    assert.equal(scores.length, 3, 'negative, neutral, positive');
    const rows = card.locator('.stage-table tbody tr');
    assert.deepEqual(await rows.locator('th').allTextContents(), ['Read the article', 'Sentiment', 'Summary', 'Headline', 'Picture', 'Card']);
    for (const time of await rows.locator('td.num').allTextContents()) assert.match(time, /^\d+(\.\d)? (ms|s)$/);
    assert.ok((await card.locator('.models li').allTextContents()).some((model) => model.startsWith('curator-test/')));
    const download = card.getByRole('link', { name: 'Download the card' });
    assert.match((await download.getAttribute('download'))!, /^curator-card-[\w-]{8}\.png$/);
    const png = await fetch((await download.getAttribute('href'))!);
    assert.equal(png.headers.get('content-type'), 'image/png');
    await assertNoCspViolations();
    await assertAccessible('card, desktop');
    await screenshot('desktop-card', true);
  });

  test('rerun with a new image prefix through POST /jobs/:id/rerun: the reused stages are named, the text stages come from the cache', async () => {
    const first = await jobIdInView();
    await page.getByRole('button', { name: 'Rerun with changes' }).click();
    await page.waitForFunction(() => document.activeElement?.id === 'f-params-imagePrefix');
    assert.equal(await page.locator('#form-title').textContent(), 'Rerun with changes');
    assert.equal(await page.locator('#f-input-text').count(), 0, 'a rerun keeps the original article: no article fields');
    assert.equal(await page.locator('.job-form .rerun-article').textContent(), 'Harbour reopens');
    assert.equal(await page.locator('#f-params-image-steps').inputValue(), '8', 'the form holds the job’s knobs');
    await page.locator('#f-params-imagePrefix').fill('Watercolour sketch - ');
    const rerunCall = page.waitForResponse((response) => response.url().endsWith(`/jobs/${first}/rerun`) && response.request().method() === 'POST');
    await submitForm('Rerun');
    const answer = await rerunCall;
    assert.equal(answer.status(), 202);
    assert.deepEqual(answer.request().postDataJSON(), { params: { imagePrefix: 'Watercolour sketch - ' } }, 'only the changed knob is sent');
    const accepted = (await answer.json()) as { id: string; rerunOf: string; reusedStages: string[] };
    assert.equal(await jobIdInView(), accepted.id);
    assert.equal(accepted.rerunOf, first);
    const card = page.locator('.result-card');
    await card.waitFor({ timeout: 120_000 });
    const labels: Record<string, string> = { extract: 'Read the article', sentiment: 'Sentiment', summarize: 'Summary', headline: 'Headline' };
    for (const name of ['sentiment', 'summarize', 'headline']) assert.ok(accepted.reusedStages.includes(name), `the rerun reuses ${name}`);
    assert.ok(!accepted.reusedStages.includes('image') && !accepted.reusedStages.includes('card'), 'the picture and the card are made again');
    assert.equal(await page.locator('.reused-line').textContent(), `Reused from the first run, not run again: ${accepted.reusedStages.map((name) => labels[name]).join(', ')}.`);
    // What the job itself reports: the reused stages came from the cache.
    const job = (await (await fetch(`${system.url}/jobs/${accepted.id}`)).json()) as { rerunOf: string; stages: Array<{ name: string; cached: boolean }> };
    assert.equal(job.rerunOf, first);
    const cached = job.stages.filter((stage) => stage.cached).map((stage) => stage.name);
    for (const name of accepted.reusedStages) assert.ok(cached.includes(name), `${name} came from the cache`);
    reusedLabels = cached.map((name) => labels[name]!).join(', ');
    assert.equal(await card.locator('.cache-line').textContent(), `From the cache: ${reusedLabels}.`);
    const sources = await card.locator('.stage-table tbody tr td:nth-child(3)').allTextContents();
    assert.deepEqual(sources, job.stages.map((stage) => (stage.cached ? 'from cache' : 'computed')));
    assert.match((await page.locator('.rerun-of').textContent())!, new RegExp(`Rerun of job ${first.slice(0, 8)}`));
  });

  test('compare the two runs side by side: what changed, what was reused, both cards', async () => {
    await page.getByRole('link', { name: 'Compare the two runs' }).click();
    await page.locator('#compare-title').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'compare-title');
    const changed = page.locator('.changes tbody tr');
    assert.equal(await changed.count(), 1);
    assert.deepEqual(await changed.locator('td').allTextContents(), ['Impressionist image - ', 'Watercolour sketch - ']);
    assert.match((await changed.locator('th').textContent())!, /params\.imagePrefix/);
    assert.equal(await page.locator('.compare > .cache-line').textContent(), `Run B reused from the cache: ${reusedLabels}.`);
    await page.locator('.compare-column .result-card').nth(1).waitFor();
    assert.equal(await page.locator('.compare-column .result-card').count(), 2);
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('.compare .card-picture img')].every((img) => img.complete && img.naturalWidth > 0));
    await assertAccessible('compare, desktop');
    await screenshot('desktop-compare', true);
  });

  test('history is the API’s list of jobs (GET /jobs, a page at a time): jobs made elsewhere too; open any, pick two to compare', async () => {
    // Jobs this browser never saw: the list comes from the API, not from the browser.
    const elsewhere = await new CuratorClient({ baseUrl: system.url }).submitBatch(
      Array.from({ length: 21 }, (_, i) => ({ type: 'classify' as const, input: { text: `Listed from elsewhere, number ${i}.` } })),
    );
    const listCall = page.waitForRequest((request) => /\/jobs\?limit=20$/.test(request.url()));
    await openStudio();
    await listCall;
    const items = page.locator('.history-item');
    await page.waitForFunction((id) => document.querySelector(`.history-open[href="#/jobs/${id}"]`) !== null, elsewhere.at(-1)!.id);
    assert.equal(await items.count(), 20, 'one page of 20');
    assert.match((await items.first().locator('.history-title').textContent())!, /^A classify job$/);
    // The next page: older jobs, among them the cards made in this browser.
    await page.getByRole('button', { name: 'Show older jobs' }).click();
    await page.waitForFunction(() => document.querySelectorAll('.history-item').length > 20);
    await page.waitForFunction((id) => document.querySelector(`.history-open[href="#/jobs/${id}"]`) !== null, firstCardId);
    const card = page.locator(`.history-item:has(.history-open[href="#/jobs/${firstCardId}"])`);
    await card.locator('.history-open').click();
    await page.locator('.result-card').waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'job-title');
    await items.nth(0).getByLabel(/Compare job/).check();
    await card.getByLabel(/Compare job/).check();
    await page.getByRole('button', { name: 'Compare the two picked jobs' }).click();
    await page.locator('#compare-title').waitFor();
    assert.equal(await page.locator('.compare-column').count(), 2);
  });

  test('a long job: live progress per stage with times, no layout shift while it updates; then cancel it', async () => {
    await openStudio();
    await fillCard({ text: `${article} The harbour master thanked the divers.`, size: 256, steps: 150 });
    await submitForm();
    await page.waitForFunction(() => /^denoising step \d+\/150$/.test(document.querySelector('.progress-detail')?.textContent ?? ''), undefined, { timeout: 120_000 });
    const running = page.locator('.stage.running');
    assert.equal(await running.locator('.stage-name').textContent(), 'Picture');
    assert.deepEqual(await page.locator('.stage.succeeded .stage-name').allTextContents(), ['Read the article', 'Sentiment', 'Summary', 'Headline']);
    for (const time of await page.locator('.stage.succeeded .stage-time').allTextContents()) assert.match(time, /^\d+(\.\d)? (ms|s)$/);

    // From here on only the progress changes: three more denoising steps must move nothing.
    const since = await page.evaluate(() => performance.now());
    const firstStep = Number(/step (\d+)/.exec((await page.locator('.progress-detail').textContent())!)![1]);
    await page.waitForFunction((step) => Number(/step (\d+)/.exec(document.querySelector('.progress-detail')?.textContent ?? '')?.[1] ?? 0) >= step + 3, firstStep, { timeout: 120_000 });
    const shifts = await page.evaluate((from) => (window as unknown as { __shifts: Array<{ value: number; at: number; input: boolean }> }).__shifts.filter((s) => s.at > from && !s.input), since);
    assert.deepEqual(shifts, [], 'no layout shift while the progress updates');
    assert.match((await running.locator('.stage-time').textContent())!, /\d/, 'the running stage shows its time so far');
    await assertAccessible('progress, desktop');
    await screenshot('desktop-progress');

    await page.getByRole('button', { name: 'Cancel the job' }).click();
    await page.waitForFunction(() => document.querySelector('.job-head .status-chip')?.textContent === 'Canceled', undefined, { timeout: 60_000 });
    assert.equal(await page.getByRole('button', { name: 'Cancel the job' }).count(), 0);
  });

  test('bad input: inline messages name the fields as the API does; refusals read as plain words', async () => {
    await openStudio();
    await fillCard({});
    await page.locator('#f-params-image-width').fill('100');
    await page.locator('#f-params-summaryMaxTokens').fill('500');
    await page.getByRole('button', { name: 'Make the card' }).click();
    const summary = page.locator('.error-summary');
    await summary.waitFor();
    await page.waitForFunction(() => document.activeElement?.classList.contains('error-summary'));
    const listed = await summary.locator('li code').allTextContents();
    assert.deepEqual(listed.sort(), ['params.image.width', 'params.summaryMaxTokens']);
    assert.equal(await page.locator('#f-params-summaryMaxTokens').getAttribute('aria-invalid'), 'true');
    assert.match((await page.locator('#f-params-summaryMaxTokens-error').textContent())!, /params\.summaryMaxTokens.*200/);
    assert.match((await page.locator('#f-params-image-width-error').textContent())!, /params\.image\.width.*multiple of 8/);
    await screenshot('desktop-errors');
    // The summary's entries take the focus to their field.
    await summary.getByRole('button', { name: /params\.image\.width/ }).click();
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'f-params-image-width');
    await assertAccessible('form with errors, desktop');

    // Fixed: the messages go as the fields are corrected.
    await page.locator('#f-params-image-width').fill('64');
    await page.locator('#f-params-summaryMaxTokens').fill('30');
    assert.equal(await summary.count(), 0);

    // Refused by the server (the gateway's own limit): its details[].path lands on the field.
    await page.locator('#f-input-text').fill('word '.repeat(900));
    await page.getByRole('button', { name: 'Make the card' }).click();
    await page.locator('#f-input-text-error').waitFor();
    assert.match((await page.locator('#f-input-text-error').textContent())!, new RegExp(`input\\.text.*limit is ${maxArticleChars}`));
    assert.equal(await page.locator('.job-form .problem-title').textContent(), 'The article is too long.');

    // Refused by the deployment's content policy (422 content_policy: nothing is queued), in words.
    await page.locator('#f-input-text').fill(article);
    await page.locator('#f-params-imagePrefix').fill(`A ${blockedTerm} sketch - `);
    await page.getByRole('button', { name: 'Make the card' }).click();
    await page.waitForFunction(() => document.querySelector('.job-form .problem-title')?.textContent === 'This request was refused by the content policy.');
    assert.equal(await page.locator('.job-form .problem-code code').textContent(), 'content_policy');
    await page.locator('#f-params-imagePrefix').fill('Impressionist image - ');

    // A job that fails: a blocked address, in words.
    await page.getByLabel('From a web address').check();
    await page.locator('#f-input-url').fill('http://127.0.0.1/news/harbour');
    await submitForm();
    await page.locator('.job-panel .problem-title').waitFor({ timeout: 60_000 });
    assert.equal(await page.locator('.job-panel .problem-title').textContent(), 'That address is not allowed.');
    assert.equal(await page.locator('.job-panel .problem-code code').textContent(), 'fetch_blocked');
    assert.equal(await page.locator('.job-head .status-chip').textContent(), 'Failed');
  });

  test('keyboard only: skip link, every field in order, submit with Enter, focus lands on the job', async () => {
    await openStudio();
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to the form');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'form-title');
    const focused = async () => page.evaluate(() => document.activeElement?.id || `${document.activeElement?.getAttribute('name')}=${(document.activeElement as HTMLInputElement).value}`);

    await page.keyboard.press('Tab');
    assert.equal(await focused(), 'source=url');
    await page.keyboard.press('ArrowDown'); // the next radio of the group: pasted text
    assert.equal(await focused(), 'source=text');
    const order: string[] = [];
    const values: Record<string, string> = { 'f-input-text': article, 'f-input-title': 'Typed, not clicked', 'f-params-image-steps': '2', 'f-params-image-width': '64', 'f-params-image-height': '64' };
    for (let presses = 0; presses < 40; presses++) {
      await page.keyboard.press('Tab');
      const id = await focused();
      order.push(id);
      if (values[id] !== undefined) {
        await page.keyboard.press('ControlOrMeta+A');
        await page.keyboard.type(values[id]!);
      }
      if (id === 'f-params-image-height') break;
    }
    assert.deepEqual(order, [
      'f-input-text',
      'f-input-title',
      'f-params-imagePrefix',
      'f-params-summaryMaxTokens',
      'f-params-headlineMaxTokens',
      'f-params-noRepeatNgramSize',
      'f-params-temperature',
      'params.analysis=sentiment',
      'params.cardText=headline',
      'f-params-seed',
      'f-params-image-steps',
      'f-params-image-guidanceScale',
      'f-params-image-scheduler',
      'f-params-image-width',
      'f-params-image-height',
    ]);
    await submitForm('Make the card', 'enter'); // Enter in a field submits the form
    await page.waitForFunction(() => document.activeElement?.id === 'job-title');
    await page.locator('.result-card').waitFor({ timeout: 120_000 });
    assert.equal(await page.locator('.result-card .article-title cite').textContent(), 'Typed, not clicked');
  });

  test('phone width: one column, nothing wider than the screen; accessible there too', async () => {
    await page.setViewportSize(phone);
    try {
      await openStudio();
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(overflow, 0, 'no horizontal scrolling on the form');
      await assertAccessible('form, phone');
      await screenshot('phone-form');
      await openStudio(`#/jobs/${firstCardId}`);
      await page.locator('.result-card').waitFor();
      await page.waitForFunction(() => (document.querySelector('.card-picture img') as HTMLImageElement | null)?.complete === true);
      assert.equal(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth), 0, 'no horizontal scrolling on the card');
      await assertAccessible('card, phone');
      await page.locator('.job-panel').screenshot(screenshotsDir ? { path: join(screenshotsDir, 'phone-card.png'), animations: 'disabled' } : {});
    } finally {
      await page.setViewportSize(desktop);
    }
  });

  test('a Curator with API keys: the studio asks for one, keeps it in the browser and sends it with every request', async () => {
    const created = await withApiKey(system, 'studio-test');
    try {
      await openStudio();
      await page.locator('.api-key.asked[open]').waitFor();
      assert.match((await page.locator('.api-key-state').textContent())!, /needed/);
      assert.equal(await page.locator('.history .problem-code code').textContent(), 'unauthorized');
      assert.match((await page.locator('.history .problem-title').textContent())!, /needs an API key/);
      await assertAccessible('asking for an API key');
      await screenshot('desktop-api-key');
      await page.getByLabel('API key', { exact: true }).fill(created.secret);
      const listed = page.waitForResponse((response) => /\/jobs\?limit=20$/.test(response.url()));
      await page.getByRole('button', { name: 'Save key' }).click();
      const answer = await listed;
      assert.equal(answer.status(), 200);
      assert.equal(answer.request().headers().authorization, `Bearer ${created.secret}`);
      assert.match((await page.locator('.api-key-state').textContent())!, /saved/);
      // A key sees its own jobs only: none yet.
      await page.waitForFunction(() => document.querySelector('.history')?.textContent?.includes('No jobs yet'));
      assert.equal(await page.locator('.history .problem').count(), 0);
      // Kept in the browser: after a reload every request carries it.
      const again = page.waitForRequest((request) => /\/jobs\?limit=20$/.test(request.url()));
      await page.reload();
      assert.equal((await again).headers().authorization, `Bearer ${created.secret}`);
      await page.locator('.api-key summary').click();
      await page.getByRole('button', { name: 'Forget key' }).click();
      assert.match((await page.locator('.api-key-state').textContent())!, /needed|none/);
    } finally {
      await created.revoke();
    }
  });

  test('no script error and no CSP refusal in the whole session', async () => {
    assert.deepEqual(pageErrors, []);
    assert.deepEqual(policyErrors, []);
    await assertNoCspViolations();
  });
});
