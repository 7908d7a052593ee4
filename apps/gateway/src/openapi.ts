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
export function tidyOpenApi<T extends { paths?: unknown; components?: { schemas?: Schemas } }>(document: T): T {
  const all = document.components?.schemas;
  if (!all) return document;
  let paths = document.paths;
  let schemas: Schemas = Object.fromEntries([...reachable(paths, all)].map((name) => [name, all[name]!]));
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
  }
  const titled = Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b)).map(([name, schema]) => [name, { title: name, ...schema }]));
  return { ...document, paths, components: { ...document.components, schemas: titled } };
}
