import { Command, InvalidArgumentError } from 'commander';
import { loadEnv } from '@curator/config';
import { CuratorError, apiKeyScopeSchema, type ApiKey, type ApiKeyScope } from '@curator/contracts';
import { KeyStore, type KeyContentPolicy } from '@curator/access';
import { connectToolRedis } from '@curator/queue';
import { printJson, processIo, reportFailure, writeLine, type CliIo } from '../output.ts';

type ListedKey = ApiKey & { contentPolicy: KeyContentPolicy };

interface CreateFlags {
  name: string;
  scopes: ApiKeyScope[];
  rateLimit?: number;
  dailyQuota?: number;
  blockTerms?: string[];
  blockPatterns?: string[];
  policyExempt?: boolean;
  json?: boolean;
}

const positiveInt = (value: string): number => {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('a whole number of at least 1');
  return Number(value);
};
const scopeList = (value: string): ApiKeyScope[] =>
  value.split(',').map((scope) => {
    const parsed = apiKeyScopeSchema.safeParse(scope.trim());
    if (!parsed.success) throw new InvalidArgumentError(`"${scope.trim()}" is not a scope (submit, read, admin)`);
    return parsed.data;
  });
const commaList = (value: string): string[] => value.split(',').map((s) => s.trim()).filter(Boolean);
const patternList = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Runs a keys subcommand on the deployment's key store (REDIS_URL, QUEUE_PREFIX), reporting failures the CLI's one way. */
async function withKeyStore(io: CliIo, json: boolean, body: (keys: KeyStore) => Promise<void>): Promise<void> {
  let close = () => undefined as void;
  try {
    const env = loadEnv(io.env);
    const redis = await connectToolRedis(env.REDIS_URL);
    close = () => redis.disconnect();
    await body(new KeyStore(redis, env.QUEUE_PREFIX));
  } catch (error) {
    reportFailure(io, error, json);
  } finally {
    close();
  }
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const limitText = (value: number | null, unit: string) => (value === null ? 'none' : `${value} ${unit}`);

function describeKey(key: ListedKey): string {
  const policy = key.contentPolicy.exempt || key.contentPolicy.terms.length > 0 || key.contentPolicy.patterns.length > 0
    ? `; content policy: ${key.contentPolicy.exempt ? 'exempt from the deployment\'s' : 'the deployment\'s'}${key.contentPolicy.terms.length + key.contentPolicy.patterns.length > 0 ? ` + ${plural(key.contentPolicy.terms.length, 'term')}, ${plural(key.contentPolicy.patterns.length, 'pattern')} of its own` : ''}`
    : '';
  return `scopes ${key.scopes.join(', ')}; rate limit ${key.rateLimitPerMinute === null ? 'the deployment default' : `${key.rateLimitPerMinute}/min`}; daily quota ${limitText(key.dailyJobQuota, 'jobs')}${policy}`;
}

function formatKeyTable(keys: ListedKey[]): string {
  if (keys.length === 0) return 'No API keys: the gateway runs open, for loopback clients only (`curator keys create --name <name>`).';
  const rows = keys.map((k) => [k.id, k.name, k.revokedAt ? `revoked ${k.revokedAt}` : 'active', k.scopes.join(','), k.rateLimitPerMinute === null ? '-' : `${k.rateLimitPerMinute}/min`, k.dailyJobQuota === null ? '-' : String(k.dailyJobQuota), k.createdAt, k.lastUsedAt ?? 'never']);
  const header = ['ID', 'NAME', 'STATE', 'SCOPES', 'RATE', 'QUOTA/DAY', 'CREATED', 'LAST USED'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}

/**
 * `curator keys create|list|revoke`: the gateway's API keys, straight in Redis (REDIS_URL,
 * QUEUE_PREFIX: the deployment's own store, so run it where Redis is reachable). The secret is
 * printed once by `create` and stored nowhere (only its SHA-256 is kept).
 */
export function registerKeysCommand(program: Command, io: CliIo = processIo): void {
  const keys = program.command('keys').description('API keys of the gateway: create, list, revoke (in Redis: REDIS_URL, QUEUE_PREFIX)');

  keys
    .command('create')
    .description('Create an API key; its secret is printed once and stored nowhere')
    .requiredOption('--name <name>', 'what the key is for (shown by keys list)')
    .option('--scopes <list>', 'comma-separated: submit (create jobs; reads its own), read (its own jobs), admin (every job, /workers ids)', scopeList, ['submit', 'read'] as ApiKeyScope[])
    .option('--rate-limit <n>', 'requests per minute (default: RATE_LIMIT_PER_MINUTE of the gateway)', positiveInt)
    .option('--daily-quota <n>', 'jobs per UTC day (default: unlimited)', positiveInt)
    .option('--block-terms <list>', 'comma-separated terms refused for this key on top of the deployment content policy', commaList)
    .option('--block-pattern <regex>', 'an RE2 pattern refused for this key (repeatable)', patternList)
    .option('--policy-exempt', "exempt the key from the deployment's content policy (its own terms and patterns still apply)")
    .option('--json', 'print { key, secret, webhookSecret } as JSON')
    .action(async (flags: CreateFlags & { blockPattern?: string[] }) => {
      await withKeyStore(io, flags.json === true, async (store) => {
        const created = await store.create({
          name: flags.name,
          scopes: flags.scopes,
          rateLimitPerMinute: flags.rateLimit ?? null,
          dailyJobQuota: flags.dailyQuota ?? null,
          contentPolicy: { exempt: flags.policyExempt === true, terms: flags.blockTerms ?? [], patterns: flags.blockPattern ?? [] },
        });
        if (flags.json) return printJson(io, created);
        writeLine(io.stdout, `Created API key ${created.key.id} "${created.key.name}": ${describeKey(created.key)}`);
        writeLine(io.stdout, '');
        writeLine(io.stdout, 'Secret (shown only now; send it as "Authorization: Bearer <secret>"):');
        writeLine(io.stdout, `  ${created.secret}`);
        writeLine(io.stdout, '');
        writeLine(io.stdout, "Webhook signing secret (verifies the webhook deliveries of this key's jobs):");
        writeLine(io.stdout, `  ${created.webhookSecret}`);
      });
    });

  keys
    .command('list')
    .description('List every API key (revoked ones too), without secrets')
    .option('--json', 'print { keys: [...] } as JSON')
    .action(async (flags: { json?: boolean }) => {
      await withKeyStore(io, flags.json === true, async (store) => {
        const listed = await store.list();
        if (flags.json) printJson(io, { keys: listed });
        else writeLine(io.stdout, formatKeyTable(listed));
      });
    });

  keys
    .command('revoke')
    .description('Revoke an API key at once on every gateway (its jobs stay)')
    .argument('<id>', 'the key id (keys list)')
    .option('--json', 'print the revoked key as JSON')
    .action(async (id: string, flags: { json?: boolean }) => {
      await withKeyStore(io, flags.json === true, async (store) => {
        const revoked = await store.revoke(id);
        if (!revoked) throw new CuratorError('not_found', `No API key ${id}`, { details: [{ path: 'id', message: 'unknown key id (see `curator keys list`)' }] });
        if (flags.json) printJson(io, { key: revoked });
        else writeLine(io.stdout, `Revoked API key ${revoked.id} "${revoked.name}" at ${revoked.revokedAt}.`);
      });
    });
}
