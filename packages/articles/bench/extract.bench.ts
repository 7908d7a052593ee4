// Article extraction cost, before and after the extraction budget (issue 11, defect 1). Prints markdown tables.
//   node packages/articles/bench/extract.bench.ts
// "Before" is the old path: jsdom + Readability with no shape check and no deadline (run in a thread here so
// the benchmark can stop it; on the main thread, as it was, the event loop was blocked for the whole time).
// Runs past BENCH_BEFORE_CAP_S (default 120) are stopped and shown as "> cap".
// "After" is createArticleExtractor() with the default limits (deadline 5 s, depth 256, 50,000 nodes).
import { performance, monitorEventLoopDelay } from 'node:perf_hooks';
import { isCuratorError } from '@curator/contracts';
import { createArticleExtractor, defaultExtractionLimits, type ArticleExtractor } from '../src/index.ts';
import { checkPageShape } from '../src/page-shape.ts';
import { limitShapedPage, nestedDivsPage, realShapedPage } from '../test/pages.ts';

const capSeconds = Number(process.env.BENCH_BEFORE_CAP_S ?? 120);
const skipBefore = process.env.BENCH_SKIP_BEFORE === '1';

interface Timed {
  seconds: number;
  outcome: string;
  /** Worst event-loop delay of this (main) thread meanwhile. */
  maxLoopDelayMs: number;
}

async function timed(extractor: ArticleExtractor, html: string): Promise<Timed> {
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const start = performance.now();
  let outcome: string;
  try {
    const article = await extractor.extract(html, 'https://bench.example/page');
    outcome = `article, ${article.text.length} chars`;
  } catch (error) {
    outcome = isCuratorError(error) ? error.code : String(error);
  }
  const seconds = (performance.now() - start) / 1000;
  delay.disable();
  return { seconds, outcome, maxLoopDelayMs: delay.max / 1e6 };
}

function mb(html: string): string {
  return `${(Buffer.byteLength(html) / 1e6).toFixed(2)} MB`;
}

function shapeOf(html: string): string {
  const shape = checkPageShape(html, { maxDepth: Number.MAX_SAFE_INTEGER, maxNodes: Number.MAX_SAFE_INTEGER }, 'https://bench.example/');
  return `${shape.depth} / ${shape.nodes}`;
}

function scanMs(html: string): number {
  const start = performance.now();
  try {
    checkPageShape(html, defaultExtractionLimits, 'https://bench.example/');
  } catch {
    // Refused: the time to refuse is what is measured.
  }
  return performance.now() - start;
}

const cases: Array<[string, () => string]> = [
  ['1,000 nested divs', () => nestedDivsPage(1_000)],
  ['2,000 nested divs', () => nestedDivsPage(2_000)],
  ['10,000 nested divs', () => nestedDivsPage(10_000)],
  ['100,000 nested divs', () => nestedDivsPage(100_000)],
  ['real-shaped page, 1 MB', () => realShapedPage(1_000_000)],
  ['at the limits: depth 256, 50,000 nodes', () => limitShapedPage(256, 50_000)],
];

// A warm thread on each side, so neither column pays jsdom's start-up.
const unbounded = createArticleExtractor({ maxDepth: Number.MAX_SAFE_INTEGER, maxNodes: Number.MAX_SAFE_INTEGER, timeoutMs: capSeconds * 1000, threads: 1, maxHeapMb: 4096 });
const bounded = createArticleExtractor({ threads: 1 });
await Promise.all([unbounded.extract(realShapedPage(20_000), 'https://bench.example/warm'), bounded.extract(realShapedPage(20_000), 'https://bench.example/warm')]);

const rows: string[] = [];
for (const [name, make] of cases) {
  const html = make();
  const before = skipBefore ? undefined : await timed(unbounded, html);
  const after = await timed(bounded, html);
  const beforeCell = !before ? 'skipped' : before.outcome === 'extraction_budget_exceeded' ? `> ${capSeconds} s (stopped)` : `${before.seconds.toFixed(2)} s`;
  const row = `| ${name} | ${mb(html)} | ${shapeOf(html)} | ${beforeCell} | ${after.seconds.toFixed(3)} s | ${after.outcome} | ${scanMs(html).toFixed(1)} ms | ${after.maxLoopDelayMs.toFixed(0)} ms |`;
  rows.push(row);
  console.error(row);
}

console.log('| Page | Size | Depth / nodes | Before: extraction | After: outcome in | After: outcome | Shape check alone | After: worst main-loop delay |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
for (const row of rows) console.log(row);

// Growth with size: real-shaped pages of increasing size through the bounded extractor.
const growth: string[] = [];
for (const bytes of [250_000, 500_000, 1_000_000, 2_000_000, 4_000_000]) {
  const html = realShapedPage(bytes);
  // Fastest of two: other work shares the cores.
  const runs = [await timed(bounded, html), await timed(bounded, html)];
  const best = runs.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
  const row = `| ${mb(html)} | ${shapeOf(html)} | ${best.seconds.toFixed(3)} s | ${best.outcome} | ${scanMs(html).toFixed(1)} ms |`;
  growth.push(row);
  console.error(row);
}
console.log('\n| Real-shaped page | Depth / nodes | After: outcome in | Outcome | Shape check alone |');
console.log('| --- | --- | --- | --- | --- |');
for (const row of growth) console.log(row);

await Promise.all([unbounded.close(), bounded.close()]);
