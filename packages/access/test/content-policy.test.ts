import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ContentPolicy, contentPolicyFromEnv, generatedContent, policyForOwner, rerunContent, submittedContent, submittedJobCount } from '../src/index.ts';

const policy = ContentPolicy.compile({ terms: ['dragon', 'bad word', 'ass'], patterns: ['\\bkill\\s+all\\b', 'secret-\\d{3}'] });
const refused = (text: string) => policy.check([{ path: 'input.prompt', text }]);

test('terms match whole words whatever the case, accents, width, invisible characters, spacing or punctuation', () => {
  for (const text of [
    'a DRAGON in the sky',
    'Dragón',
    'ｄｒａｇｏｎ',
    'dra\u200Bgon',
    'd r a g o n',
    'd.r.a.g.o.n flying',
    'dr4g0n',
    'a Bad   Word here',
    'bad-word',
    'BADWORD',
    'b a d w o r d',
    'your @ss',
  ]) {
    assert.deepEqual(refused(text)?.rule, 'term', text);
  }
});

test('terms never match inside other words or across ordinary words', () => {
  for (const text of ['a classic passage', 'dragonfly? no: dragonflies', 'bad words are fine', 'word bad', 'a b c', '2024 results', 'the sun']) {
    assert.equal(refused(text), null, text);
  }
});

test('patterns are RE2, case-insensitive, linear-time; unsupported syntax is refused when compiled', () => {
  assert.equal(refused('They will KILL   ALL of them')?.rule, 'pattern');
  assert.equal(refused('code SECRET-123')?.matched, 'secret-\\d{3}');
  assert.equal(refused('skill alley'), null);
  // A pattern that backtracks catastrophically in a backtracking engine answers at once here.
  const nested = ContentPolicy.compile({ patterns: ['(a+)+$'] });
  assert.equal(nested.check([{ path: 'x', text: `${'a'.repeat(50_000)}!` }])?.rule, undefined);
  assert.throws(() => ContentPolicy.compile({ patterns: ['(a)\\1'] }), (error: Error & { code?: string }) => error.code === 'validation_failed' && /patterns\.0/.test(error.message));
  assert.throws(() => ContentPolicy.compile({ patterns: ['a(?=b)'] }), /not an RE2 pattern/);
});

test('the first refused field is named; clean fields pass', () => {
  assert.deepEqual(
    policy.check([
      { path: 'params.imagePrefix', text: 'Oil painting - ' },
      { path: 'params.negativePrompt', text: 'no dragons? no DRAGON' },
    ]),
    { path: 'params.negativePrompt', rule: 'term', matched: 'dragon' },
  );
  assert.equal(ContentPolicy.none.check([{ path: 'x', text: 'dragon' }]), null);
});

test("a key's policy adds to the deployment's, or replaces it for an exempt key", () => {
  const withExtra = policy.withKey({ exempt: false, terms: ['unicorn'], patterns: [] });
  assert.equal(withExtra.check([{ path: 'p', text: 'a unicorn' }])?.matched, 'unicorn');
  assert.equal(withExtra.check([{ path: 'p', text: 'a dragon' }])?.matched, 'dragon');
  const exempt = policy.withKey({ exempt: true, terms: ['unicorn'], patterns: [] });
  assert.equal(exempt.check([{ path: 'p', text: 'a dragon' }]), null);
  assert.equal(exempt.check([{ path: 'p', text: 'unicorns? a unicorn' }])?.matched, 'unicorn');
  assert.equal(policy.withKey({ exempt: true, terms: [], patterns: [] }).check([{ path: 'p', text: 'dragon' }]), null);
  assert.equal(policy.withKey(null), policy);
});

test('policyForOwner reads the key of a job owner; anonymous jobs get the deployment policy', async () => {
  const read: string[] = [];
  const forOwner = policyForOwner(policy, { contentPolicyFor: async (owner) => (read.push(owner), { exempt: false, terms: ['griffin'], patterns: [] }) });
  assert.equal((await forOwner(null)).check([{ path: 'summary', text: 'a griffin' }]), null);
  assert.equal((await forOwner('anonymous')).check([{ path: 'summary', text: 'a griffin' }]), null);
  assert.equal((await forOwner('0123456789abcdef')).check([{ path: 'summary', text: 'a griffin' }])?.matched, 'griffin');
  assert.deepEqual(read, ['0123456789abcdef']);
  const failing = policyForOwner(policy, { contentPolicyFor: async () => Promise.reject(new Error('Connection is closed')) });
  await assert.rejects(failing('0123456789abcdef'), (error: Error & { code?: string; retryable?: boolean }) => error.code === 'queue_unavailable' && error.retryable === true);
});

test('which fields are read: prompts, negative prompts and curate image prefixes, by path', () => {
  assert.deepEqual(submittedContent({ type: 'text-to-image', input: { prompt: 'p' }, params: { negativePrompt: 'n' } }), [
    { path: 'input.prompt', text: 'p' },
    { path: 'params.negativePrompt', text: 'n' },
  ]);
  assert.deepEqual(submittedContent({ jobs: [{ type: 'classify', input: { text: 'dragon' } }, { type: 'curate', input: { text: 't' }, params: { imagePrefix: 'i', image: { negativePrompt: 'n' } } }] }), [
    { path: 'jobs.1.params.imagePrefix', text: 'i' },
    { path: 'jobs.1.params.image.negativePrompt', text: 'n' },
  ]);
  assert.deepEqual(submittedContent({ type: 'text-to-image', input: { prompt: 42 } }), [], 'not a string: validation refuses it');
  assert.deepEqual(submittedContent(null), []);
  assert.equal(submittedJobCount({ jobs: [{}, {}, {}] }), 3);
  assert.equal(submittedJobCount({ type: 'classify' }), 1);
  assert.deepEqual(rerunContent({ params: { imagePrefix: 'x', image: { negativePrompt: 'y' } } }), [
    { path: 'params.imagePrefix', text: 'x' },
    { path: 'params.image.negativePrompt', text: 'y' },
  ]);
  assert.deepEqual(generatedContent({ summary: 's', headline: 'h', cardText: 'title' }).map((f) => f.path), ['summary', 'headline', 'cardText']);
  assert.deepEqual(generatedContent({ summary: 's', headline: 'h', cardText: 'h' }).map((f) => f.path), ['summary', 'headline']);
});

test('the deployment policy from the environment: terms, a JSON list of patterns and a file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'policy-'));
  const file = join(dir, 'policy.json');
  writeFileSync(file, JSON.stringify({ terms: ['wyvern'], patterns: ['^forbidden'] }));
  const fromEnv = contentPolicyFromEnv({ CONTENT_POLICY_TERMS: ['dragon'], CONTENT_POLICY_PATTERNS: ['x\\d+y'], CONTENT_POLICY_FILE: file });
  assert.deepEqual(fromEnv.rules, { terms: ['dragon', 'wyvern'], patterns: ['x\\d+y', '^forbidden'] });
  writeFileSync(file, JSON.stringify({ terms: 'dragon' }));
  assert.throws(() => contentPolicyFromEnv({ CONTENT_POLICY_TERMS: [], CONTENT_POLICY_PATTERNS: [], CONTENT_POLICY_FILE: file }), /CONTENT_POLICY_FILE.*terms/);
  assert.throws(() => contentPolicyFromEnv({ CONTENT_POLICY_TERMS: [], CONTENT_POLICY_PATTERNS: ['(?<=a)b'] }), /CONTENT_POLICY_PATTERNS\.patterns\.0/);
});
