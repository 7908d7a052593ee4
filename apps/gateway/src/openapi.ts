type Json = Record<string, unknown>;
type Schemas = Record<string, Json>;

const refPrefix = '#/components/schemas/';

/** Every `$ref` to a component schema inside `value`. */
function refsIn(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const item of value) refsIn(item, out);
  else if (value && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string' && child.startsWith(refPrefix)) out.add(child.slice(refPrefix.length));
      else refsIn(child, out);
    }
  }
  return out;
}

function renameRefs(value: unknown, rename: ReadonlyMap<string, string>): unknown {
  if (Array.isArray(value)) return value.map((item) => renameRefs(item, rename));
  if (!value || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, child]) => {
      if (key === '$ref' && typeof child === 'string' && child.startsWith(refPrefix)) {
        const name = child.slice(refPrefix.length);
        return [key, `${refPrefix}${rename.get(name) ?? name}`];
      }
      return [key, renameRefs(child, rename)];
    }),
  );
}

/** The component schemas the paths use, directly or through other components. */
function reachable(paths: unknown, schemas: Schemas): Set<string> {
  const seen = new Set<string>();
  const queue = [...refsIn(paths)];
  while (queue.length > 0) {
    const name = queue.pop()!;
    if (seen.has(name) || !schemas[name]) continue;
    seen.add(name);
    queue.push(...refsIn(schemas[name]));
  }
  return seen;
}

/**
 * fastify-type-provider-zod documents every registered zod schema twice, as `X` (responses) and
 * `XInput` (request bodies), used or not. Keep the schemas the routes use, name a request-only
 * schema `X` rather than `XInput`, keep `XInput` only where it differs from `X` (defaults make
 * fields optional on the way in), and title each one so viewers name union members.
 */
export function tidyOpenApi<T extends { paths?: unknown; webhooks?: unknown; components?: { schemas?: Schemas } }>(document: T): T {
  const all = document.components?.schemas;
  if (!all) return document;
  let paths = document.paths;
  let webhooks = document.webhooks;
  let schemas: Schemas = Object.fromEntries([...reachable({ paths, webhooks }, all)].map((name) => [name, all[name]!]));
  for (let changed = true; changed; ) {
    changed = false;
    const rename = new Map<string, string>();
    for (const name of Object.keys(schemas)) {
      if (!name.endsWith('Input')) continue;
      const plain = name.slice(0, -'Input'.length);
      if (!schemas[plain]) rename.set(name, plain);
      else {
        const asPlain = JSON.stringify(renameRefs(schemas[name], new Map([...Object.keys(schemas)].filter((n) => n.endsWith('Input')).map((n) => [n, n.slice(0, -5)]))));
        if (asPlain === JSON.stringify(schemas[plain])) rename.set(name, plain);
      }
    }
    if (rename.size === 0) break;
    changed = true;
    const next: Schemas = {};
    for (const [name, schema] of Object.entries(schemas)) {
      const target = rename.get(name) ?? name;
      if (!next[target] || !rename.has(name)) next[target] = renameRefs(schema, rename) as Json;
    }
    schemas = next;
    paths = renameRefs(paths, rename);
    webhooks = renameRefs(webhooks, rename);
  }
  const titled = Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)).map(([name, schema]) => [name, { title: name, ...schema }]));
  return { ...document, paths, ...(webhooks === undefined ? {} : { webhooks }), components: { ...document.components, schemas: titled } };
}

// ---------- what the route schemas cannot say: access, limits, headers, examples, webhooks ----------

type Content = Record<string, { schema?: unknown; examples?: Json }>;
type ResponseObject = { description?: string; headers?: Json; content?: Content };
type Operation = {
  summary?: string;
  description?: string;
  parameters?: Array<{ in: string; name: string } & Json>;
  requestBody?: { content?: Content };
  responses?: Record<string, ResponseObject>;
  security?: Array<Record<string, string[]>>;
} & Json;

export type RouteAccess = 'public' | 'submit' | 'read' | 'admin';

/** The API key security scheme every non-public operation names. */
export const securitySchemeName = 'apiKey';
export const securitySchemes = {
  [securitySchemeName]: {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key (`curator keys create`), sent as `Authorization: Bearer <key>`. Needed once the deployment has keys; a gateway without keys serves loopback clients only, without one.',
  },
} as const;

const errorBodyRef = { $ref: `${refPrefix}ErrorBody` };

/** What each error status means on this API, by the stable codes it carries. */
const errorStatusDescriptions: Record<string, string> = {
  '400': 'The request is not valid (`validation_failed`, `invalid_json`): `details` names each wrong field by its path.',
  '401': 'No API key, or not a valid one (`unauthorized`): send `Authorization: Bearer <key>`. Only where the deployment has API keys.',
  '403': 'The API key lacks the scope this operation needs (`forbidden`).',
  '404': "No such job for this caller (`job_not_found`): never made, expired (its ttl), or another key's.",
  '408': 'The deadline passed (`deadline_exceeded`).',
  '409': "The job's state, or an Idempotency-Key used with another body, does not allow it (`job_not_cancelable`, `job_not_retryable`, `idempotency_conflict`).",
  '413': 'Too large: the body, or an article over MAX_ARTICLE_CHARS (`payload_too_large`, `text_too_long`).',
  '415': 'The body is not JSON (`unsupported_media_type`).',
  '422': "Refused by the deployment's content policy (`content_policy`): nothing was queued.",
  '429': "Over the rate limit (`rate_limited`) or the API key's daily job quota (`quota_exceeded`); `Retry-After` says when to try again.",
  '501': 'This build does not run that job type yet (`not_implemented`).',
  '503': 'A store Curator needs cannot be reached (`queue_unavailable`): try again after `Retry-After`.',
};

const integerHeader = (description: string) => ({ description, schema: { type: 'integer', minimum: 0 } });
const retryAfterHeader = integerHeader('Seconds to wait before trying again.');
/** The IETF draft's names, as the rate limit sends them on every metered response while RATE_LIMIT_PER_MINUTE (or the key's own limit) is set. */
const rateLimitHeaders = {
  'RateLimit-Limit': integerHeader('Requests allowed per window for this API key (or, without one, this client address).'),
  'RateLimit-Remaining': integerHeader('Requests left in the current window.'),
  'RateLimit-Reset': integerHeader('Seconds until the window resets.'),
};
const locationHeader = { description: 'The job: `/jobs/<id>`.', schema: { type: 'string' } };

/** Response headers particular to one operation and status (`METHOD /path status`). */
const operationResponseHeaders: Record<string, Json> = {
  'post /jobs 202': {
    Location: { ...locationHeader, description: 'The job (single submissions): `/jobs/<id>`.' },
    'Idempotent-Replayed': { description: '`true` when this answer replays an earlier submission with the same Idempotency-Key (no new job).', schema: { type: 'string', enum: ['true'] } },
    'Preference-Applied': { description: '`wait=<seconds>` when a `Prefer: wait` was honoured but the job had not finished within it.', schema: { type: 'string' } },
  },
  'post /jobs/{id}/rerun 202': {
    Location: { ...locationHeader, description: 'The new job: `/jobs/<id>`.' },
    'Idempotent-Replayed': { description: '`true` when this answer replays an earlier rerun with the same Idempotency-Key (no new job).', schema: { type: 'string', enum: ['true'] } },
  },
  'post /jobs 200': {
    Location: locationHeader,
    'Preference-Applied': { description: '`wait=<seconds>`: the `Prefer: wait` that was honoured.', schema: { type: 'string' } },
  },
};

const headerParameter = (name: string, description: string) => ({ in: 'header', name, required: false, description, schema: { type: 'string' } });
const idempotencyKeyParameter = headerParameter('idempotency-key', 'Makes the request safe to send again: the same key with the same body gives back the same job (202, `Idempotent-Replayed: true`); with another body it is 409 `idempotency_conflict`.');
const cancelAfterParameter = headerParameter('cancel-after', 'The latest start, from now: seconds (`90`) or a duration (`90s`, `5m`, `1h30m`). A job no worker started by then ends `expired`.');

/** Request headers a route reads itself (outside its schema), documented as header parameters. */
const operationRequestHeaders: Record<string, Json[]> = {
  'post /jobs/{id}/rerun': [idempotencyKeyParameter, cancelAfterParameter],
  'get /jobs/{id}/events': [
    {
      in: 'header',
      name: 'last-event-id',
      required: false,
      description: 'Resume after this event (`id` of the last one received): the job is sent again only if it changed since, and always its final state.',
      schema: { type: 'string' },
    },
  ],
};

/** Operations whose texts the content policy reads before anything is queued (plugins/access.ts). */
const contentPolicyOperations = new Set(['post /jobs', 'post /jobs/{id}/rerun']);

/** Routes the rate limit never counts (probes and scrapes: plugins/rate-limit.ts). */
const unmeteredPaths = new Set(['/healthz', '/readyz', '/metrics']);

const methods = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'] as const;

function* operations(paths: unknown): Generator<[path: string, method: string, operation: Operation]> {
  for (const [path, item] of Object.entries((paths ?? {}) as Record<string, Record<string, Operation>>)) {
    for (const method of methods) if (item[method]) yield [path, method, item[method]];
  }
}

/** Every component a schema names, directly or through anyOf/oneOf/allOf (not through properties). */
function unionMembers(schema: unknown, schemas: Schemas, seen = new Set<string>()): string[] {
  if (!schema || typeof schema !== 'object') return [];
  const node = schema as { $ref?: string; anyOf?: unknown[]; oneOf?: unknown[]; allOf?: unknown[] };
  if (typeof node.$ref === 'string' && node.$ref.startsWith(refPrefix)) {
    const name = node.$ref.slice(refPrefix.length);
    if (seen.has(name)) return [];
    seen.add(name);
    return [name, ...unionMembers(schemas[name], schemas, seen)];
  }
  return [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])].flatMap((member) => unionMembers(member, schemas, seen));
}

/** Named examples for a media type, from the examples of the components its schema may be. */
function mediaExamples(schema: unknown, schemas: Schemas): Json | undefined {
  const named: Json = {};
  for (const name of unionMembers(schema, schemas)) {
    const examples = (schemas[name] as { examples?: unknown[] } | undefined)?.examples ?? [];
    examples.forEach((value, i) => (named[examples.length === 1 ? name : `${name} ${i + 1}`] = { summary: `${name}${examples.length === 1 ? '' : ` (${i + 1})`}`, value }));
  }
  return Object.keys(named).length > 0 ? named : undefined;
}

function withExamples(content: Content | undefined, schemas: Schemas): void {
  for (const media of Object.values(content ?? {})) {
    if (media.examples) continue;
    const examples = mediaExamples(media.schema, schemas);
    if (examples) media.examples = examples;
  }
}

const isError = (status: string) => /^[45]/.test(status);

/** For a success the route did not describe (Fastify's "Default Response"). */
const successDescriptions: Record<string, string> = { '200': 'OK.', '201': 'Created.', '202': 'Accepted.' };

/** An error response: the ErrorBody schema and what the status means here. */
function errorResponse(status: string, existing: ResponseObject | undefined): ResponseObject {
  const description = existing?.description && existing.description !== 'Default Response' ? existing.description : (errorStatusDescriptions[status] ?? 'An error.');
  return { ...existing, description, content: { 'application/json': { schema: errorBodyRef, ...(existing?.content?.['application/json']?.examples ? { examples: existing.content['application/json'].examples } : {}) } } };
}

/**
 * Completes each operation (in place): the errors every route can answer (401/403 where a key is needed, 429 where the rate limit counts), the headers the gateway
 * sends (Retry-After, RateLimit-*, Location, Preference-Applied, Idempotent-Replayed) and named
 * examples from the contracts on every body. Runs on the tidied document (final schema names).
 */
export function completeOpenApi<T extends { paths?: unknown; components?: { schemas?: Schemas } }>(document: T): T {
  const schemas = document.components?.schemas ?? {};
  for (const [path, method, operation] of operations(document.paths)) {
    const responses = (operation.responses ??= {});
    const keyed = operation.security === undefined || operation.security.length > 0;
    if (keyed) {
      responses['401'] = errorResponse('401', responses['401']);
      responses['403'] = errorResponse('403', responses['403']);
    }
    const metered = !unmeteredPaths.has(path);
    if (metered) responses['429'] = errorResponse('429', responses['429']);
    if (contentPolicyOperations.has(`${method} ${path}`)) responses['422'] = errorResponse('422', responses['422']);
    for (const [status, response] of Object.entries(responses)) {
      const fixed = isError(status) ? errorResponse(status, response) : response;
      if (fixed.description === 'Default Response' && successDescriptions[status]) fixed.description = successDescriptions[status];
      const headers: Json = { ...(metered ? rateLimitHeaders : {}), ...operationResponseHeaders[`${method} ${path} ${status}`] };
      if (status === '429' || status === '503') headers['Retry-After'] = retryAfterHeader;
      if (Object.keys(headers).length > 0) fixed.headers = { ...headers, ...fixed.headers };
      withExamples(fixed.content, schemas);
      responses[status] = fixed;
    }
    withExamples(operation.requestBody?.content, schemas);
    const declared = new Set((operation.parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name.toLowerCase()));
    const missing = (operationRequestHeaders[`${method} ${path}`] ?? []).filter((header) => !declared.has(String(header['name']).toLowerCase()));
    if (missing.length > 0) operation.parameters = [...(operation.parameters ?? []), ...(missing as Operation['parameters'] & object)];
  }
  return document;
}

/** Adds the webhook messages (OpenAPI 3.1 `webhooks`); before tidying, which keeps the schemas they name. */
export function withWebhookMessages<T extends object>(document: T): T & { webhooks: Json } {
  return { ...document, webhooks: webhookOperations() };
}

const webhookHeaders = [
  { name: 'webhook-id', description: 'The message id: the same on every retry of one message (deduplicate on it).' },
  { name: 'webhook-timestamp', description: 'Unix seconds when it was sent; refuse messages outside a few minutes of your clock (replays).' },
  { name: 'webhook-signature', description: '`v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">` under the secret (`whsec_…`, base64 after the prefix); several space-separated during a secret rotation. See docs/webhooks.md.' },
];

/** The signed POSTs a job's `webhook.url` receives (Standard Webhooks), one entry per message type. */
function webhookOperations(): Json {
  const message = (type: string, summary: string) => ({
    post: {
      summary,
      description: `A \`${type}\` message: the job as \`GET /jobs/:id\` shows it, signed the Standard Webhooks way. Answer 2xx; 429 and 5xx (or no answer) are retried with backoff, other answers are not.`,
      security: [],
      parameters: webhookHeaders.map(({ name, description }) => ({ in: 'header', name, required: true, description, schema: { type: 'string' } })),
      requestBody: { required: true, content: { 'application/json': { schema: { $ref: `${refPrefix}WebhookPayload` } } } },
      responses: { '2XX': { description: 'Received.' } },
    },
  });
  return {
    'job.started': message('job.started', 'A worker took the job (events: start)'),
    'job.progress': message('job.progress', 'The job moved on (events: progress; throttled)'),
    'job.completed': message('job.completed', 'The job reached a final status: succeeded, failed, canceled or expired (events: completed)'),
  };
}

/**
 * The operation's security, set per route while the document is made: none on public routes
 * (probes, scrapes, docs), the API key elsewhere, with the scope it needs said in words.
 */
export function documentAccess<S extends Record<string, unknown>>(schema: S, access: RouteAccess): S {
  if (access === 'public') return { ...schema, security: [] };
  const needs = `Needs an API key with the \`${access}\` scope${access === 'admin' ? '' : ' (or `admin`)'} where the deployment has keys.`;
  const description = typeof schema['description'] === 'string' ? `${schema['description']}\n\n${needs}` : needs;
  return { ...schema, description, security: [{ [securitySchemeName]: [] }] };
}
