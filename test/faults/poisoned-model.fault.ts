// Fault: an input that makes a model throw. The genre model in a copy of the models folder is damaged
// the way a bad export is: its config.json claims 512 positions while the graph's position table has
// 128 rows, so any article over 128 tokens makes onnxruntime fail (the position embeddings no longer
// line up with the tokens) while short ones, and the warm-up, still work. The poisoned jobs fail with `inference_failed` at once (not
// retried: the same input fails the same way), and the worker stays healthy for everyone else.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { copyOfTestModels, startFaultCluster, type FaultCluster } from '../support/fault-cluster.ts';
import { assertKeptPromises, jobMix, progress, recordLedger, settle, startProbe, submitAll } from './scenario.ts';

let cluster: FaultCluster | undefined;
let scratch: string | undefined;
after(async () => {
  await cluster?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** A genre model whose config promises more positions than its graph has. */
async function damageGenreModel(modelsDir: string): Promise<void> {
  const configFile = join(modelsDir, 'curator-test', 'genre', 'config.json');
  const config = JSON.parse(await readFile(configFile, 'utf8')) as { max_position_embeddings: number };
  assert.equal(config.max_position_embeddings, 128, 'the generated genre model has 128 positions');
  await writeFile(configFile, JSON.stringify({ ...config, max_position_embeddings: 512 }, null, 2));
}

const longArticle = (tag: string) =>
  Array.from({ length: 40 }, (_, i) => `Paragraph ${i} of report ${tag}: the council met again on Tuesday to discuss the harbour budget.`).join(' ');

test('a poisoned input that makes a model throw fails its job with inference_failed, once, and harms no other job', async () => {
  scratch = await mkdtemp(join(tmpdir(), 'curator-faults-models-'));
  const modelsDir = await copyOfTestModels(join(scratch, 'models'));
  await damageGenreModel(modelsDir);
  cluster = await startFaultCluster({ name: 'poisoned', modelsDir });
  await cluster.startWorker();
  progress('cluster up with a damaged genre model');
  const ids: string[] = [];
  const probe = startProbe(cluster, () => ids);
  const poisoned = [
    { type: 'classify', input: { text: longArticle('a') }, params: { task: 'genre' } },
    { type: 'curate', input: { text: longArticle('b') }, params: { analysis: 'genre', seed: 1, summaryMaxTokens: 8, headlineMaxTokens: 8, image: { width: 64, height: 64, steps: 2 } } },
  ];
  // Healthy work beside them: every other job type, and short articles for the damaged genre model.
  const healthy = [
    ...jobMix(9, 'poisoned').filter((job) => (job as { params?: { task?: string } }).params?.task !== 'genre'),
    { type: 'classify', input: { text: 'Shares rose on Monday.' }, params: { task: 'genre' } },
    { type: 'classify', input: { text: 'The striker scored twice.' }, params: { task: 'genre' } },
  ];
  const submitted = await submitAll(cluster, [...poisoned, ...healthy]);
  ids.push(...submitted.ids);

  const outcome = await settle(cluster, submitted);
  await probe.stop();
  recordLedger('poisoned input (model throws)', outcome);
  await assertKeptPromises(cluster, outcome, 'poisoned input');
  for (const id of submitted.ids.slice(0, poisoned.length)) {
    const view = outcome.views.get(id);
    assert.equal(view.status, 'failed', `poisoned job ${id}`);
    assert.equal(view.error.code, 'inference_failed');
    assert.deepEqual(view.attempts.made, 1, 'not retried: the same input fails the same way');
  }
  for (const id of submitted.ids.slice(poisoned.length)) assert.equal(outcome.views.get(id).status, 'succeeded', `job ${id}: ${JSON.stringify(outcome.views.get(id).error)}`);
});
