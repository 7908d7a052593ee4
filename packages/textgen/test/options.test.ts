// How the length limits settle when a call, a stage and generation_config.json each set some:
// against what transformers' own generate() did (packages/reference/generation/length_rules.py).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generationReferenceDir } from '@curator/reference';
import { readGenerationConfig, resolveOptions, stageDefaults, type GenerateOptions } from '../src/options.ts';

interface LengthCase {
  generation_config: Record<string, number>;
  call: Record<string, number>;
  max_new_tokens: number;
  min_new_tokens: number;
}

const tokens = { decoder_start_token_id: 0, eos_token_id: 1, pad_token_id: 0 };
const callKeys: Record<string, keyof GenerateOptions> = { max_length: 'maxLength', max_new_tokens: 'maxNewTokens', min_length: 'minLength', min_new_tokens: 'minNewTokens' };

function cases(version: string): LengthCase[] {
  return (JSON.parse(readFileSync(join(generationReferenceDir, `length-rules-${version}.json`), 'utf8')) as { cases: LengthCase[] }).cases;
}

/** The cases whose limits Curator resolves differently from this transformers version. */
function disagreements(version: string): LengthCase[] {
  return cases(version).filter((c) => {
    const call = Object.fromEntries(Object.entries(c.call).map(([key, value]) => [callKeys[key]!, value])) as GenerateOptions;
    const resolved = resolveOptions(call, readGenerationConfig(tokens, { ...tokens, ...c.generation_config }));
    return resolved.maxNewTokens !== c.max_new_tokens || resolved.minNewTokens !== c.min_new_tokens;
  });
}

test('length limits resolve as transformers 5.18 resolves them, every case', () => {
  assert.equal(cases('5.18.0').length, 19);
  assert.deepEqual(disagreements('5.18.0'), []);
});

test('and as 4.57.6, but for a generation_config that sets max_length 20 (4.x took it for the unset default)', () => {
  assert.deepEqual(
    disagreements('4.57.6').map((c) => [c.generation_config, c.call, c.max_new_tokens]),
    [[{ max_length: 20 }, {}, 20]],
  );
});

test("the stages' limits are call arguments: generation_config's max_new_tokens still beats them, a job's maxNewTokens beats both", () => {
  const plain = readGenerationConfig(tokens, tokens);
  assert.equal(resolveOptions({}, plain, 'summarize').maxNewTokens, 29);
  assert.equal(resolveOptions({}, plain, 'headline').maxNewTokens, 83);
  const withMaxNew = readGenerationConfig(tokens, { ...tokens, max_new_tokens: 12 });
  assert.equal(resolveOptions({}, withMaxNew, 'summarize').maxNewTokens, 12);
  assert.equal(resolveOptions({ maxNewTokens: 7 }, withMaxNew, 'headline').maxNewTokens, 7);
  assert.equal(resolveOptions({ maxLength: 5 }, plain, 'headline').maxNewTokens, 4);
});

test('the stage defaults are the reference pipeline arguments', () => {
  assert.deepEqual(stageDefaults.summarize, { prefix: 'summarize: ', normalizeWhitespace: false, maxInputTokens: 512, numBeams: 4, lengthPenalty: 2, earlyStopping: true, maxLength: 30 });
  assert.deepEqual(stageDefaults.headline, { prefix: '', normalizeWhitespace: true, maxInputTokens: 384, padding: 'max_length', numBeams: 4, noRepeatNgramSize: 2, maxLength: 84 });
  const model = readGenerationConfig(tokens, tokens);
  const summary = resolveOptions({}, model, 'summarize');
  assert.deepEqual(
    [summary.mode, summary.numBeams, summary.lengthPenalty, summary.earlyStopping, summary.noRepeatNgramSize, summary.beamSearch],
    ['beam', 4, 2, true, 0, 'current'],
  );
  const headline = resolveOptions({}, model, 'headline');
  assert.deepEqual([headline.mode, headline.numBeams, headline.lengthPenalty, headline.earlyStopping, headline.noRepeatNgramSize], ['beam', 4, 1, false, 2]);
});

test('limits nothing can be generated within are bad input, naming the option', () => {
  const model = readGenerationConfig(tokens, tokens);
  assert.throws(() => resolveOptions({ maxLength: 1 }, model), (error: { code?: string; message?: string }) => error.code === 'bad_input' && /maxLength/.test(error.message ?? ''));
  assert.throws(() => resolveOptions({ maxNewTokens: 0 }, model), (error: { code?: string }) => error.code === 'bad_input');
  assert.throws(() => resolveOptions({ beamSearch: 'old' as never }, model), (error: { code?: string }) => error.code === 'bad_input');
});
