// fast-check generators of bad input for the gateway: JSON that is not a job, valid jobs with one
// thing wrong, JSON text that is not JSON, bytes that are not UTF-8, odd ids, URLs and headers.
// Every request made from these is wrong by construction, so the gateway must refuse each one.
import fc from 'fast-check';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type Path = Array<string | number>;

/** One valid request of every shape (the fuzzer breaks them). URLs name a closed loopback port: nothing is fetched. */
export const validRequests: Json[] = [
  { type: 'classify', input: { text: 'I love this!' } },
  { type: 'classify', input: { url: 'http://127.0.0.1:9/news/a', title: 'A title' }, params: { task: 'genre' } },
  { type: 'summarize', input: { text: 'The harbour reopened.' }, params: { maxTokens: 20, minTokens: 5, numBeams: 2, lengthPenalty: 1.5 } },
  { type: 'headline', input: { text: 'The harbour reopened.', title: 'Harbour' }, params: { doSample: true, temperature: 0.7, topP: 0.9, topK: 40, seed: 7 } },
  { type: 'text-to-image', input: { prompt: 'a harbour at dawn' }, params: { steps: 5, width: 64, height: 64, seed: 1, scheduler: 'ddim', format: 'png', guidanceScale: 7 } },
  { type: 'curate', input: { text: 'The harbour reopened.' }, params: { seed: 3, analysis: 'sentiment', imagePrefix: 'Oil - ', image: { width: 64, height: 64, steps: 2 } } },
  { jobs: [{ type: 'classify', input: { text: 'one' } }, { type: 'headline', input: { text: 'two' }, params: { maxTokens: 10 } }] },
];

/** Out-of-range or otherwise refused values for fields of `validRequests`, by request index and path. */
const refusedValues: Array<{ request: number; path: Path; values: Json[] }> = [
  { request: 0, path: ['type'], values: ['classify ', 'CLASSIFY', 'curate2', '', 'meta'] },
  { request: 0, path: ['input', 'text'], values: ['', '   ', '\n\t'] },
  { request: 1, path: ['input', 'url'], values: ['ftp://127.0.0.1/a', 'not a url', 'javascript:alert(1)', 'file:///etc/passwd', ''] },
  { request: 1, path: ['params', 'task'], values: ['Genre', 'topic', ''] },
  { request: 1, path: ['input', 'title'], values: ['', ' ', 't'.repeat(1001), 't'.repeat(100_000)] },
  { request: 2, path: ['params', 'maxTokens'], values: [4, 201, 1.5, -1] },
  { request: 2, path: ['params', 'minTokens'], values: [21, 200, -1] },
  { request: 2, path: ['params', 'numBeams'], values: [0, 17, 2.5] },
  { request: 3, path: ['params', 'temperature'], values: [0, -1, 101] },
  { request: 3, path: ['params', 'topP'], values: [0, 1.01, -0.5] },
  { request: 4, path: ['params', 'steps'], values: [0, 151, 2.5] },
  { request: 4, path: ['params', 'width'], values: [63, 65, 1032, 2048, 0] },
  { request: 4, path: ['params', 'seed'], values: [-1, 2 ** 32, 1.5] },
  { request: 4, path: ['params', 'scheduler'], values: ['DDIM', 'lms', ''] },
  { request: 4, path: ['input', 'prompt'], values: ['', ' ', 'x'.repeat(2001)] },
  { request: 5, path: ['params', 'analysis'], values: ['genres', ''] },
  { request: 5, path: ['params', 'imagePrefix'], values: ['p'.repeat(501), 'p'.repeat(200_000)] },
  { request: 5, path: ['params', 'image', 'numImages'], values: [0, 5] },
  { request: 6, path: ['jobs'], values: [[], Array.from({ length: 101 }, () => ({ type: 'classify', input: { text: 'x' } }))] },
];

export function clone<T>(value: T): T {
  return structuredClone(value);
}

export function setAt(value: Json, path: Path, replacement: Json): Json {
  const copy = clone(value);
  let node: any = copy;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path.at(-1)!] = replacement;
  return copy;
}

export function deleteAt(value: Json, path: Path): Json {
  const copy = clone(value);
  let node: any = copy;
  for (const key of path.slice(0, -1)) node = node[key];
  if (Array.isArray(node)) node.splice(Number(path.at(-1)), 1);
  else delete node[path.at(-1)!];
  return copy;
}

function at(value: Json, path: Path): Json {
  let node: any = value;
  for (const key of path) node = node[key];
  return node;
}

const jsonType = (value: unknown) => (value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value);

/** Paths of every value below the root (leaves and containers). */
function paths(value: Json, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [];
  const keys: Array<string | number> = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return keys.flatMap((key) => [[...prefix, key], ...paths((value as any)[key], [...prefix, key])]);
}

function objectPaths(value: Json, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [];
  const own = Array.isArray(value) ? [] : [prefix];
  const keys: Array<string | number> = Array.isArray(value) ? value.map((_, i) => i) : Object.keys(value);
  return [...own, ...keys.flatMap((key) => objectPaths((value as any)[key], [...prefix, key]))];
}

const anyJson: fc.Arbitrary<Json> = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 40 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
) as fc.Arbitrary<Json>;

/** What was broken, so a test can check the error names it. */
export interface Mutation {
  kind: 'wrong type' | 'unknown key' | 'missing field' | 'refused value' | 'text too long' | 'min over max';
  path: Path;
  body: Json;
}

const template = fc.constantFrom(...validRequests.map((request, index) => ({ request, index })));

const wrongType: fc.Arbitrary<Mutation> = template.chain(({ request }) =>
  fc
    .constantFrom(...paths(request))
    .chain((path) => anyJson.filter((v) => jsonType(v) !== jsonType(at(request, path))).map((value) => ({ kind: 'wrong type' as const, path, body: setAt(request, path, value) }))),
);

const unknownKey: fc.Arbitrary<Mutation> = template.chain(({ request }) =>
  fc.record({ path: fc.constantFrom(...objectPaths(request)), key: fc.string({ minLength: 1, maxLength: 12 }), value: anyJson }).filter(({ path, key }) => !(key in (at(request, path) as object))).map(({ path, key, value }) => {
    const body = clone(request);
    (at(body, path) as Record<string, Json>)[key] = value;
    return { kind: 'unknown key' as const, path, body };
  }),
);

/** Only fields every request needs. */
const required: Array<{ request: number; path: Path }> = [
  { request: 0, path: ['type'] },
  { request: 0, path: ['input'] },
  { request: 0, path: ['input', 'text'] },
  { request: 1, path: ['input', 'url'] },
  { request: 4, path: ['input', 'prompt'] },
  { request: 6, path: ['jobs', 0, 'type'] },
  { request: 6, path: ['jobs', 1, 'input'] },
];
const missingField: fc.Arbitrary<Mutation> = fc.constantFrom(...required).map(({ request, path }) => ({ kind: 'missing field' as const, path, body: deleteAt(validRequests[request]!, path) }));

const refusedValue: fc.Arbitrary<Mutation> = fc
  .constantFrom(...refusedValues)
  .chain(({ request, path, values }) => fc.constantFrom(...values).map((value) => ({ kind: 'refused value' as const, path, body: setAt(validRequests[request]!, path, value) })));

/** Over MAX_ARTICLE_CHARS (100,000 by default): 413. */
const textTooLong = (maxChars: number): fc.Arbitrary<Mutation> =>
  fc.integer({ min: maxChars + 1, max: maxChars * 4 }).map((length) => ({ kind: 'text too long' as const, path: ['input', 'text'], body: setAt(validRequests[0]!, ['input', 'text'], 'a'.repeat(length)) }));

const minOverMax: fc.Arbitrary<Mutation> = fc
  .record({ max: fc.integer({ min: 5, max: 199 }), over: fc.integer({ min: 1, max: 50 }) })
  .filter(({ max, over }) => max + over <= 200)
  .map(({ max, over }) => ({ kind: 'min over max' as const, path: ['params', 'minTokens'], body: setAt(setAt(validRequests[2]!, ['params', 'maxTokens'], max), ['params', 'minTokens'], max + over) }));

export const brokenRequest = (maxChars: number): fc.Arbitrary<Mutation> =>
  fc.oneof(
    { arbitrary: wrongType, weight: 4 },
    { arbitrary: unknownKey, weight: 2 },
    { arbitrary: missingField, weight: 1 },
    { arbitrary: refusedValue, weight: 3 },
    { arbitrary: textTooLong(maxChars), weight: 1 },
    { arbitrary: minOverMax, weight: 1 },
  );

/** JSON values that are no job at all (no `type`, or not an object). */
export const notAJob: fc.Arbitrary<Json> = (fc.jsonValue({ maxDepth: 4 }) as fc.Arbitrary<Json>).filter(
  (value) => jsonType(value) !== 'object' || (!('type' in (value as object)) && !('jobs' in (value as object))),
);

/** Text that is not JSON: cut short, with trailing bytes, JavaScript-isms, or random characters. */
export const notJson: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...validRequests).chain((request) => {
    const text = JSON.stringify(request);
    return fc.integer({ min: 1, max: text.length - 1 }).map((cut) => text.slice(0, cut));
  }),
  fc.tuple(fc.constantFrom(...validRequests), fc.constantFrom('x', '}', ',', '{}', ']', '"', 'null', '\u0000')).map(([request, tail]) => JSON.stringify(request) + tail),
  fc.constantFrom("{'type':'classify'}", '{"type":"classify",}', '{"a":NaN}', '{"a":Infinity}', '{"a":1}/*c*/', '{"a":undefined}', '{"a":0x10}', '{"a":.5}', '\uFEFF{"a":1}x'),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 200 }).filter((text) => {
    try {
      JSON.parse(text);
      return false;
    } catch {
      return true;
    }
  }),
);

/** Arrays or objects nested `depth` deep: JSON, but no job (1,000 to 200,000 levels). */
export const deeplyNested: fc.Arbitrary<string> = fc
  .record({ depth: fc.integer({ min: 1_000, max: 200_000 }), objects: fc.boolean(), inField: fc.boolean() })
  .map(({ depth, objects, inField }) => {
    const nested = objects ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}` : `${'['.repeat(depth)}${']'.repeat(depth)}`;
    return inField ? `{"type":"classify","input":{"text":"x"},"params":${nested}}` : nested;
  });

/** Byte sequences no UTF-8 decoder may accept. */
export const invalidUtf8: fc.Arbitrary<Uint8Array> = fc.constantFrom(
  Uint8Array.of(0xff),
  Uint8Array.of(0xfe, 0xff),
  Uint8Array.of(0xc0, 0x80), // overlong NUL
  Uint8Array.of(0xe0, 0x80, 0xaf), // overlong '/'
  Uint8Array.of(0xed, 0xa0, 0x80), // a UTF-16 surrogate encoded as UTF-8
  Uint8Array.of(0xe2, 0x82), // cut short
  Uint8Array.of(0x80), // a lone continuation byte
  Uint8Array.of(0xf8, 0x88, 0x80, 0x80, 0x80), // five bytes
  Uint8Array.of(0xf4, 0x90, 0x80, 0x80), // past U+10FFFF
);

/** String fields of the valid requests that carry user text into a model or a card. */
export const textFields: Array<{ request: number; path: Path }> = [
  { request: 0, path: ['input', 'text'] },
  { request: 1, path: ['input', 'title'] },
  { request: 4, path: ['input', 'prompt'] },
  { request: 5, path: ['params', 'imagePrefix'] },
  { request: 6, path: ['jobs', 1, 'input', 'text'] },
];

/** A valid request whose text field has `bytes` inside it: the body's bytes, ready to send. */
export function withBytesInField(field: { request: number; path: Path }, bytes: Uint8Array): Buffer {
  const marker = '\u0001MARK\u0001';
  const body = setAt(validRequests[field.request]!, field.path, `before ${marker} after`);
  const [head, tail] = JSON.stringify(body).split(JSON.stringify(marker).slice(1, -1));
  return Buffer.concat([Buffer.from(head!, 'utf8'), bytes, Buffer.from(tail!, 'utf8')]);
}

/** A valid request whose text field holds an unpaired UTF-16 surrogate, written as a JSON escape. */
export const loneSurrogate: fc.Arbitrary<{ field: Path; body: string }> = fc
  .record({ field: fc.constantFrom(...textFields), code: fc.integer({ min: 0xd800, max: 0xdfff }), trailing: fc.boolean() })
  .map(({ field, code, trailing }) => {
    const marker = 'SURROGATE_HERE';
    const body = JSON.stringify(setAt(validRequests[field.request]!, field.path, trailing ? `text ${marker}` : `${marker} text`));
    return { field: field.path, body: body.replace(marker, `\\u${code.toString(16)}`) };
  });

/** Job ids that are no job: BullMQ's own key names, and strings of every kind. */
export const reservedIds = ['meta', 'id', 'events', 'stalled-check', 'completed', 'failed', 'wait', 'active', 'paused', 'delayed', 'prioritized', 'waiting-children', 'marker', 'limiter', 'pc', 'lock', 'logs', 'de', 'repeat', 'metrics'];

/** A path segment, percent-encoded as a client would send it (or not, when it is already odd). */
export const oddId: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...reservedIds),
  fc.constantFrom('%', '%zz', '%ff', '%c0%80', '%ed%a0%80', '%00', '..', '.', '%2e%2e', '%2F', 'a%20b', '*', '~', '-'),
  fc.uuid().map((id) => id.toUpperCase()),
  fc.uuid().map((id) => `${id}-image`),
  fc.uuid().map((id) => `${id}x`),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).map((s) => encodeURIComponent(s)),
  fc.integer({ min: 201, max: 20_000 }).map((n) => 'a'.repeat(n)),
);
