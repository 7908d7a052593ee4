// Reads V8 heap snapshots (`--heapsnapshot-signal`, the .heapsnapshot JSON that DevTools reads) of one
// process taken at intervals, and says what grew between them: live objects and bytes by constructor,
// which of those were allocated after the first snapshot and are still alive, and the shortest retaining
// path from the GC roots to a few of them. A V8 object keeps its snapshot id across snapshots of the
// same process, and ids only grow, so "allocated after snapshot 1" is "id above snapshot 1's largest".
// (memlab reads snapshots too, but it depends on puppeteer and a Chrome download, which a bench of a
// Node service does not need.)
import { readFileSync, statSync } from 'node:fs';

interface RawSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]]; edge_fields: string[]; edge_types: [string[]] }; node_count: number };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export interface ClassCount {
  count: number;
  bytes: number;
}

export interface HeapSnapshot {
  file: string;
  fileBytes: number;
  nodeCount: number;
  /** Sum of every live object's own size: what the heap holds after the full GC the snapshot starts with. */
  liveBytes: number;
  maxId: number;
  byClass: Map<string, ClassCount>;
  /** Live objects with ids above `sinceId`, by class (only when read with `sinceId`). */
  newerByClass: Map<string, ClassCount>;
  raw: RawSnapshot;
}

function layout(raw: RawSnapshot) {
  const { meta } = raw.snapshot;
  const nf = meta.node_fields;
  const ef = meta.edge_fields;
  return {
    nodeSize: nf.length,
    type: nf.indexOf('type'),
    name: nf.indexOf('name'),
    id: nf.indexOf('id'),
    selfSize: nf.indexOf('self_size'),
    edgeCount: nf.indexOf('edge_count'),
    nodeTypes: meta.node_types[0],
    edgeSize: ef.length,
    edgeType: ef.indexOf('type'),
    edgeName: ef.indexOf('name_or_index'),
    edgeTo: ef.indexOf('to_node'),
    edgeTypes: meta.edge_types[0],
  };
}

/** A node's class as DevTools' summary groups it: the constructor for objects, the kind for the rest. */
function classOf(raw: RawSnapshot, l: ReturnType<typeof layout>, at: number): string {
  const type = l.nodeTypes[raw.nodes[at + l.type]!]!;
  const name = raw.strings[raw.nodes[at + l.name]!]!;
  if (type === 'object' || type === 'native') return name;
  if (type === 'closure') return `(closure) ${name || '(anonymous)'}`;
  if (type === 'array' || type === 'hidden' || type === 'code' || type === 'object shape') return `(${type}) ${name.length > 60 ? `${name.slice(0, 60)}…` : name}`;
  return `(${type})`;
}

export function readHeapSnapshot(file: string, sinceId?: number): HeapSnapshot {
  const raw = JSON.parse(readFileSync(file, 'utf8')) as RawSnapshot;
  const l = layout(raw);
  const byClass = new Map<string, ClassCount>();
  const newerByClass = new Map<string, ClassCount>();
  let liveBytes = 0;
  let maxId = 0;
  const add = (map: Map<string, ClassCount>, key: string, bytes: number) => {
    const entry = map.get(key) ?? { count: 0, bytes: 0 };
    entry.count++;
    entry.bytes += bytes;
    map.set(key, entry);
  };
  for (let at = 0; at < raw.nodes.length; at += l.nodeSize) {
    const bytes = raw.nodes[at + l.selfSize]!;
    const id = raw.nodes[at + l.id]!;
    const key = classOf(raw, l, at);
    liveBytes += bytes;
    maxId = Math.max(maxId, id);
    add(byClass, key, bytes);
    if (sinceId !== undefined && id > sinceId) add(newerByClass, key, bytes);
  }
  return { file, fileBytes: statSync(file).size, nodeCount: raw.nodes.length / l.nodeSize, liveBytes, maxId, byClass, newerByClass, raw };
}

/**
 * Shortest retaining paths to up to `samples` objects of `className` with ids above `sinceId`, weak
 * edges skipped: "(root) -> global -.listeners-> Map -> ...". Like DevTools' retainers view, paths
 * from the user roots (the global objects) come first: V8's synthetic roots (handle scopes, global
 * handles, compilation caches) often reach an object in fewer steps, through a handle that says
 * nothing about which code keeps it. Objects no user root reaches get their synthetic-root path.
 */
export function retainingPaths(snapshot: HeapSnapshot, className: string, sinceId: number, samples = 3): string[] {
  const { raw } = snapshot;
  const l = layout(raw);
  const nodeCount = raw.nodes.length / l.nodeSize;
  const firstEdge = new Uint32Array(nodeCount + 1);
  for (let n = 0; n < nodeCount; n++) firstEdge[n + 1] = firstEdge[n]! + raw.nodes[n * l.nodeSize + l.edgeCount]! * l.edgeSize;
  const isSynthetic = (n: number) => l.nodeTypes[raw.nodes[n * l.nodeSize + l.type]!] === 'synthetic';
  const isTarget = (n: number) => raw.nodes[n * l.nodeSize + l.id]! > sinceId && classOf(raw, l, n * l.nodeSize) === className;

  const shortestTrees = (fromRootOnlyTo: (n: number) => boolean, wanted: number, skip: ReadonlySet<number>) => {
    const parentNode = new Int32Array(nodeCount).fill(-1);
    const parentEdge = new Int32Array(nodeCount).fill(-1);
    const targets: number[] = [];
    const queue = new Int32Array(nodeCount);
    let head = 0;
    let tail = 0;
    queue[tail++] = 0;
    parentNode[0] = 0;
    while (head < tail && targets.length < wanted) {
      const n = queue[head++]!;
      for (let e = firstEdge[n]!; e < firstEdge[n + 1]!; e += l.edgeSize) {
        if (l.edgeTypes[raw.edges[e + l.edgeType]!] === 'weak') continue;
        const to = raw.edges[e + l.edgeTo]! / l.nodeSize;
        if (parentNode[to] !== -1 || (n === 0 && !fromRootOnlyTo(to))) continue;
        parentNode[to] = n;
        parentEdge[to] = e;
        queue[tail++] = to;
        if (!skip.has(to) && isTarget(to)) {
          targets.push(to);
          if (targets.length === wanted) break;
        }
      }
    }
    return targets.map((target) => ({ target, path: pathTo(target, parentNode, parentEdge) }));
  };

  const label = (n: number) => {
    const at = n * l.nodeSize;
    return n === 0 ? '(root)' : `${classOf(raw, l, at)}@${raw.nodes[at + l.id]}`;
  };
  const edgeLabel = (e: number) => {
    const type = l.edgeTypes[raw.edges[e + l.edgeType]!]!;
    const nameOrIndex = raw.edges[e + l.edgeName]!;
    return type === 'element' || type === 'hidden' ? `[${nameOrIndex}]` : `.${raw.strings[nameOrIndex]}`;
  };
  function pathTo(target: number, parentNode: Int32Array, parentEdge: Int32Array): string {
    const steps: string[] = [];
    for (let n = target; n !== 0; n = parentNode[n]!) steps.unshift(`-${edgeLabel(parentEdge[n]!)}-> ${label(n)}`);
    return `${label(0)} ${steps.join(' ')}`;
  }

  const fromUserRoots = shortestTrees((n) => !isSynthetic(n), samples, new Set());
  if (fromUserRoots.length === samples) return fromUserRoots.map((p) => p.path);
  const found = new Set(fromUserRoots.map((p) => p.target));
  const fromAnyRoot = shortestTrees(() => true, samples - fromUserRoots.length, found);
  return [...fromUserRoots, ...fromAnyRoot].map((p) => p.path);
}

/** The classes whose live count grew most from the first snapshot to the last (and grew at every step). */
export function growingClasses(snapshots: readonly HeapSnapshot[], limit = 12): Array<{ className: string; counts: number[]; bytes: number[]; steadyGrowth: boolean }> {
  const first = snapshots[0]!;
  const last = snapshots.at(-1)!;
  return [...last.byClass.keys()]
    .map((className) => {
      const counts = snapshots.map((s) => s.byClass.get(className)?.count ?? 0);
      const bytes = snapshots.map((s) => s.byClass.get(className)?.bytes ?? 0);
      const steadyGrowth = counts.every((c, i) => i === 0 || c > counts[i - 1]!);
      return { className, counts, bytes, steadyGrowth, grew: bytes.at(-1)! - (first.byClass.get(className)?.bytes ?? 0) };
    })
    .sort((a, b) => b.grew - a.grew)
    .slice(0, limit)
    .map(({ grew: _grew, ...rest }) => rest);
}
