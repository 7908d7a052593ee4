// A job request from the command line: the source (a URL, a text file, stdin), the job type, the
// knob flags, --params JSON and --param key=value. The gateway checks the result against the
// contracts and names any wrong field by its API path.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { jobTypes, type JobType, type WebhookEvent } from '@curator/contracts';
import type { JobRequestInput } from '@curator/client';
import { UsageError, type CliIo } from './output.ts';

type Value = 'int' | 'number' | 'text' | 'size';

interface KnobFlag {
  /** Commander's flag, e.g. `--summary-tokens <n>`; the option key is its camelCase name. */
  flag: string;
  key: string;
  description: string;
  value: Value;
  /** Where it goes in `params`, per job type it applies to (a size sets `[width, height]`). */
  paths: Partial<Record<JobType, string | readonly [string, string]>>;
}

/** The knobs people turn most; every other param is reachable with --param or --params. */
export const knobFlags: readonly KnobFlag[] = [
  { flag: '--prefix <text>', key: 'prefix', value: 'text', description: 'image prompt prefix (curate: params.imagePrefix)', paths: { curate: 'imagePrefix' } },
  { flag: '--analysis <task>', key: 'analysis', value: 'text', description: 'sentiment or genre (curate: params.analysis; classify: params.task)', paths: { curate: 'analysis', classify: 'task' } },
  { flag: '--card-text <which>', key: 'cardText', value: 'text', description: 'headline or title: what the card says (curate)', paths: { curate: 'cardText' } },
  { flag: '--summary-tokens <n>', key: 'summaryTokens', value: 'int', description: 'summary length in tokens (curate: params.summaryMaxTokens)', paths: { curate: 'summaryMaxTokens' } },
  { flag: '--headline-tokens <n>', key: 'headlineTokens', value: 'int', description: 'headline length in tokens (curate: params.headlineMaxTokens)', paths: { curate: 'headlineMaxTokens' } },
  { flag: '--max-tokens <n>', key: 'maxTokens', value: 'int', description: 'most new tokens (summarize, headline)', paths: { summarize: 'maxTokens', headline: 'maxTokens' } },
  { flag: '--beams <n>', key: 'beams', value: 'int', description: 'beam search width (summarize, headline: params.numBeams)', paths: { summarize: 'numBeams', headline: 'numBeams' } },
  { flag: '--ngram <n>', key: 'ngram', value: 'int', description: 'no-repeat n-gram size (curate, summarize, headline)', paths: { curate: 'noRepeatNgramSize', summarize: 'noRepeatNgramSize', headline: 'noRepeatNgramSize' } },
  { flag: '--temperature <x>', key: 'temperature', value: 'number', description: 'sampling temperature (curate: 0 searches with beams)', paths: { curate: 'temperature', summarize: 'temperature', headline: 'temperature' } },
  { flag: '--seed <n>', key: 'seed', value: 'int', description: 'same seed, same output', paths: { curate: 'seed', summarize: 'seed', headline: 'seed', 'text-to-image': 'seed' } },
  { flag: '--steps <n>', key: 'steps', value: 'int', description: 'denoising steps (curate: params.image.steps)', paths: { curate: 'image.steps', 'text-to-image': 'steps' } },
  { flag: '--guidance <x>', key: 'guidance', value: 'number', description: 'guidance scale (curate: params.image.guidanceScale)', paths: { curate: 'image.guidanceScale', 'text-to-image': 'guidanceScale' } },
  { flag: '--scheduler <name>', key: 'scheduler', value: 'text', description: 'pndm, ddim, euler, euler-ancestral or dpm-solver++', paths: { curate: 'image.scheduler', 'text-to-image': 'scheduler' } },
  { flag: '--size <WxH>', key: 'size', value: 'size', description: 'picture size, e.g. 512x512 (multiples of 8)', paths: { curate: ['image.width', 'image.height'], 'text-to-image': ['width', 'height'] } },
  { flag: '--negative-prompt <text>', key: 'negativePrompt', value: 'text', description: 'what the picture should not show', paths: { curate: 'image.negativePrompt', 'text-to-image': 'negativePrompt' } },
];

const collect = (value: string, previous: string[]) => [...previous, value];

/** --params and --param, for submit and rerun alike. */
export function withParamOptions(command: Command): Command {
  return command
    .option('--params <json>', 'params as a JSON object (knob flags and --param go over it)')
    .option('--param <key=value>', 'one param by its dotted API path, e.g. image.steps=4 (repeatable; the value is read as JSON when it parses, else as text)', collect, []);
}

export function withKnobFlags(command: Command): Command {
  for (const knob of knobFlags) command.addOption(new Option(knob.flag, knob.description));
  return command;
}

/** Sets `value` at a dotted path, making the objects on the way. */
function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const key of keys.slice(0, -1)) {
    const next = node[key];
    node = (node[key] = next && typeof next === 'object' && !Array.isArray(next) ? next : {}) as Record<string, unknown>;
  }
  node[keys.at(-1)!] = value;
}

function parseJsonObject(text: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what}: not JSON (${(error as Error).message})`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${what}: must be a JSON object`);
  return value as Record<string, unknown>;
}

function parseValue(flag: string, raw: string, kind: Value): unknown {
  if (kind === 'text') return raw;
  if (kind === 'size') {
    const match = /^(\d+)x(\d+)$/i.exec(raw.trim());
    if (!match) throw new UsageError(`${flag} ${raw}: WIDTHxHEIGHT, e.g. 512x512`);
    return [Number(match[1]), Number(match[2])];
  }
  const number = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(number) || (kind === 'int' && !Number.isInteger(number))) throw new UsageError(`${flag} ${raw}: ${kind === 'int' ? 'a whole number' : 'a number'}`);
  return number;
}

export interface ParamOptions {
  params?: string;
  param?: string[];
  [knob: string]: unknown;
}

/**
 * The params from --params, then each --param, then the knob flags (each applies to the job types
 * it names; a knob given for another type is a usage error, not silently dropped). `type` is
 * undefined where it is not known (a rerun: --param and --params only).
 */
export function paramsFromOptions(options: ParamOptions, type?: JobType): Record<string, unknown> {
  const params = options.params === undefined ? {} : parseJsonObject(options.params, '--params');
  for (const pair of options.param ?? []) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new UsageError(`--param ${pair}: key=value, e.g. image.steps=4`);
    const raw = pair.slice(at + 1);
    let value: unknown = raw;
    try {
      value = JSON.parse(raw);
    } catch {
      // Not JSON: the text itself (a prefix, a scheduler name).
    }
    setPath(params, pair.slice(0, at), value);
  }
  if (type === undefined) return params;
  for (const knob of knobFlags) {
    const raw = options[knob.key];
    if (typeof raw !== 'string') continue;
    const flag = knob.flag.split(' ')[0]!;
    const path = knob.paths[type];
    if (path === undefined) throw new UsageError(`${flag} does not apply to ${type} jobs (it is for ${Object.keys(knob.paths).join(', ')})`);
    const value = parseValue(flag, raw, knob.value);
    if (typeof path === 'string') setPath(params, path, value);
    else path.forEach((p, i) => setPath(params, p, (value as number[])[i]));
  }
  return params;
}

export function parseJobType(value: string): JobType {
  if (!(jobTypes as readonly string[]).includes(value)) throw new UsageError(`--type ${value}: one of ${jobTypes.join(', ')}`);
  return value as JobType;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? new TextEncoder().encode(chunk) : (chunk as Uint8Array));
  return Buffer.concat(chunks);
}

function decode(bytes: Uint8Array, what: string): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`${what} is not UTF-8 text`);
  }
}

/**
 * The text of `source`: stdin for `-`, else the file; for a prompt (text-to-image), the argument
 * itself when no such file exists.
 */
async function sourceText(source: string, io: CliIo, promptFallback: boolean): Promise<string> {
  if (source === '-') return decode(await readAll(io.stdin), 'stdin');
  const path = resolve(source);
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    if (promptFallback && (error as NodeJS.ErrnoException).code === 'ENOENT') return source;
    throw new UsageError(`Cannot read ${path}: ${(error as Error).message} (give an http(s) URL, a text file, or - for stdin)`);
  }
  return decode(bytes, path);
}

/** The request a `curator submit` describes. */
export async function requestFromSource(source: string, type: JobType, options: ParamOptions & { title?: string }, io: CliIo): Promise<JobRequestInput> {
  const params = paramsFromOptions(options, type);
  if (type === 'text-to-image') {
    if (options.title !== undefined) throw new UsageError('--title is for article jobs, not text-to-image');
    return { type, input: { prompt: (await sourceText(source, io, true)).trim() }, params } as JobRequestInput;
  }
  const title = options.title === undefined ? {} : { title: options.title };
  const input = /^https?:\/\//i.test(source) ? { url: source, ...title } : { text: (await sourceText(source, io, false)).trim(), ...title };
  return { type, input, params } as JobRequestInput;
}

/** Job options any request may carry: --deadline, --ttl, --webhook, --webhook-events. */
export function withJobOptionFlags(command: Command): Command {
  return command
    .option('--deadline <time>', 'an ISO 8601 time: a job not started by then ends expired')
    .option('--ttl <seconds>', 'how long the job and its result are kept')
    .option('--webhook <url>', 'receives signed POSTs about the job (Standard Webhooks)')
    .option('--webhook-events <list>', 'comma-separated: start, progress, completed (default completed)');
}

export interface JobOptionFlags {
  deadline?: string;
  ttl?: string;
  webhook?: string;
  webhookEvents?: string;
}

/** The fields every job request (and a rerun) may carry besides its type, input and params. */
export type JobOptionFields = Pick<Extract<JobRequestInput, { type: 'curate' }>, 'deadline' | 'ttlSeconds' | 'webhook'>;

/** The request's `deadline`, `ttlSeconds` and `webhook` from the flags (checked by the gateway). */
export function jobOptionsFromFlags(flags: JobOptionFlags): JobOptionFields {
  if (flags.webhookEvents !== undefined && flags.webhook === undefined) throw new UsageError('--webhook-events needs --webhook');
  return {
    ...(flags.deadline === undefined ? {} : { deadline: flags.deadline }),
    ...(flags.ttl === undefined ? {} : { ttlSeconds: parseValue('--ttl', flags.ttl, 'int') as number }),
    ...(flags.webhook === undefined
      ? {}
      : { webhook: { url: flags.webhook, ...(flags.webhookEvents === undefined ? {} : { events: flags.webhookEvents.split(',').map((event) => event.trim()).filter(Boolean) as WebhookEvent[] }) } }),
  };
}

/** --cancel-after, a submit's own (it is a header of POST /jobs). */
export function withCancelAfterFlag(command: Command): Command {
  return command.option('--cancel-after <seconds>', 'a job not started within this many seconds ends expired (sent as the Cancel-After header)');
}

export function cancelAfterSeconds(flags: { cancelAfter?: string }): number | undefined {
  return flags.cancelAfter === undefined ? undefined : (parseValue('--cancel-after', flags.cancelAfter, 'int') as number);
}
