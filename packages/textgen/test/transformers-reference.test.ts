// textgen against transformers itself: a tiny T5 made by transformers (packages/reference/models/
// t5-tiny), built into ONNX graphs by @curator/graphs from its model.safetensors, must generate the
// tokens transformers' generate() recorded, run for run (greedy, beam search with length penalty
// and early stopping, no-repeat n-grams, min length without early stopping, four returned beams,
// and the two stages, the headline one padded to 384 as the reference tokenizes).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCheckpoint, type CheckpointReader } from '@curator/checkpoints';
import { writeT5 } from '@curator/graphs/t5';
import type { WeightSource } from '@curator/graphs/weights';
import { generationReferenceDir, modelsReferenceDir } from '@curator/reference';
import { Seq2SeqModel } from '../src/seq2seq-model.ts';
import { generateBatch } from '../src/generate.ts';
import { resolveOptions, stageDefaults, type BeamSearchVersion, type GenerateOptions, type Stage } from '../src/options.ts';

interface Run {
  name: string;
  input: number;
  padded_to?: number | null;
  options: Record<string, number | boolean>;
  sequences: number[][];
}
interface Recording {
  transformers_version: string;
  inputs: number[][];
  runs: Run[];
}

const t5Dir = join(modelsReferenceDir, 't5-tiny');
let dir: string;
let merged: Seq2SeqModel;
let split: Seq2SeqModel;

/** The adapter the converter uses: checkpoint tensors by state-dict name, shapes checked. */
function readerWeights(reader: CheckpointReader): WeightSource {
  return {
    async get(name, shape) {
      const info = reader.info(name);
      if (!info) throw new Error(`${name} is not in ${reader.path}`);
      if (info.shape.join() !== shape.join()) throw new Error(`${name} is [${info.shape}], the builder wants [${shape}]`);
      return reader.readFloat32(name);
    },
  };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'textgen-t5-reference-'));
  const config = JSON.parse(await readFile(join(t5Dir, 'config.json'), 'utf8')) as Record<string, unknown>;
  const reader = await openCheckpoint(join(t5Dir, 'model.safetensors'));
  try {
    await writeT5(dir, config, readerWeights(reader), { parts: ['encoder_model', 'decoder_model_merged', 'decoder_model', 'decoder_with_past_model'] });
  } finally {
    await reader.close();
  }
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  await writeFile(join(dir, 'generation_config.json'), JSON.stringify({ decoder_start_token_id: 0, eos_token_id: 1, pad_token_id: 0 }));
  merged = await Seq2SeqModel.load({ modelDir: dir, decoder: 'merged', sessionOptions: { intraOpNumThreads: 1 } });
  split = await Seq2SeqModel.load({ modelDir: dir, decoder: 'split', sessionOptions: { intraOpNumThreads: 1 } });
});
after(async () => {
  await merged?.close();
  await split?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function recording(file: string): Promise<Recording> {
  return JSON.parse(await readFile(file, 'utf8')) as Recording;
}

const optionNames: Record<string, keyof GenerateOptions> = {
  num_beams: 'numBeams',
  length_penalty: 'lengthPenalty',
  early_stopping: 'earlyStopping',
  max_length: 'maxLength',
  max_new_tokens: 'maxNewTokens',
  min_length: 'minLength',
  no_repeat_ngram_size: 'noRepeatNgramSize',
  num_return_sequences: 'numReturnSequences',
};

function optionsOf(run: Run, beamSearch: BeamSearchVersion): GenerateOptions {
  const options: Record<string, unknown> = { beamSearch };
  for (const [key, value] of Object.entries(run.options)) {
    if (!optionNames[key]) throw new Error(`no textgen option for ${key}`);
    options[optionNames[key]] = value;
  }
  return options as GenerateOptions;
}

/** transformers' sequences without the decoder start token, cut after </s> (what follows is padding). */
function expectedTokens(sequence: number[]): number[] {
  const end = sequence.indexOf(1, 1);
  return end === -1 ? sequence.slice(1) : sequence.slice(1, end + 1);
}

/** Runs every recorded run through textgen; returns the runs whose tokens differ. */
async function mismatches(model: Seq2SeqModel, recorded: Recording, beamSearch: BeamSearchVersion): Promise<string[]> {
  const differing: string[] = [];
  for (const run of recorded.runs) {
    const inputIds = recorded.inputs[run.input]!;
    const [result] = await generateBatch(model, [{ inputIds, padTo: run.padded_to ?? undefined, options: resolveOptions(optionsOf(run, beamSearch), model.generation) }]);
    if (result instanceof Error) throw result;
    const ours = result!.sequences.map((s) => s.tokens);
    const theirs = run.sequences.map(expectedTokens);
    if (JSON.stringify(ours) !== JSON.stringify(theirs)) differing.push(`${run.name} input ${run.input}`);
  }
  return differing;
}

for (const version of ['5.18.0', '4.57.6']) {
  test(`beamSearch 'current' (the default) generates transformers ${version}'s tokens on every recorded run`, async () => {
    const recorded = await recording(join(t5Dir, `generate-${version}.json`));
    assert.equal(recorded.transformers_version, version);
    assert.equal(recorded.runs.length, 48);
    const differing = await mismatches(merged, recorded, 'current');
    console.log(`# transformers ${version}, beamSearch current: ${recorded.runs.length - differing.length} of ${recorded.runs.length} runs token for token`);
    assert.deepEqual(differing, []);
  });
}

test('the split decoder export gives the same tokens as the merged one on every recorded run', async () => {
  const recorded = await recording(join(t5Dir, 'generate-5.18.0.json'));
  assert.deepEqual(await mismatches(split, recorded, 'current'), []);
});

test("beamSearch 'legacy' generates the tokens of transformers <= 4.48's BeamSearchScorer on every beam-search run", async () => {
  const legacy = await recording(join(generationReferenceDir, 'legacy-beam-search.json'));
  assert.equal(legacy.runs.length, 40);
  const differing = await mismatches(merged, legacy, 'legacy');
  console.log(`# BeamSearchScorer (<= 4.48), beamSearch legacy: ${legacy.runs.length - differing.length} of ${legacy.runs.length} runs token for token`);
  assert.deepEqual(differing, []);
  // The two versions part on these runs only: where a finished hypothesis outscored the best running
  // beam (min length without early stopping, four returned beams).
  const current = await recording(join(t5Dir, 'generate-5.18.0.json'));
  const apart = await mismatches(merged, legacy, 'current');
  assert.deepEqual(apart, ['beam4_min_length10_no_early_stopping input 0', 'beam4_min_length10_no_early_stopping input 6', 'beam4_return4 input 6']);
  assert.deepEqual(await mismatches(merged, current, 'legacy'), apart);
});

test("the stages' own defaults (no options given) generate what transformers generated with the reference pipeline's arguments", async () => {
  const recorded = await recording(join(t5Dir, 'generate-5.18.0.json'));
  const stages: Record<string, Stage> = { headline_stage: 'headline', summary_stage: 'summarize' };
  const runs = recorded.runs.filter((r) => stages[r.name]);
  assert.equal(runs.length, 8);
  for (const run of runs) {
    const stage = stages[run.name]!;
    const padTo = stageDefaults[stage].padding === 'max_length' ? stageDefaults[stage].maxInputTokens : undefined;
    assert.equal(padTo ?? null, run.padded_to ?? null, `${stage} pads as the reference does`);
    const [result] = await generateBatch(merged, [{ inputIds: recorded.inputs[run.input]!, padTo, options: resolveOptions({}, merged.generation, stage) }]);
    if (result instanceof Error) throw result;
    assert.deepEqual(result!.sequences.map((s) => s.tokens), run.sequences.map(expectedTokens), `${run.name} input ${run.input}`);
    assert.equal(result!.encoderLength, padTo ?? recorded.inputs[run.input]!.length);
  }
});
