// `node test/bench/cpu-profile.ts <file.cpuprofile | folder>`: where a process spent its CPU, from a V8 CPU
// profile (`--cpu-prof`, e.g. the gateway under `BENCH_GATEWAY_NODE_OPTIONS="--cpu-prof --cpu-prof-dir=/tmp/prof"
// npm run bench -- test/bench/gateway-http.bench.ts`): self time by npm package or source file, then the
// functions with the most self time. Idle time is left out; shares are of the time the process was busy.
// Self time, not inclusive: inclusive time is misleading across `await` (a resumed function appears at the
// root of the stack).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const target = process.argv[2];
if (!target) throw new Error('usage: cpu-profile.ts <file.cpuprofile | folder holding one or more>');
const files = statSync(target).isDirectory()
  ? readdirSync(target)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(target, f))
  : [target];
if (files.length === 0) throw new Error(`no .cpuprofile in ${target}`);

/** `fastify`, `@smithy/core`, `node:net`, or the file relative to the working directory. */
function ownerOf(url: string, functionName: string): string {
  if (!url) return functionName || '(native)'; // (garbage collector), (program), native code
  const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inPackage) return inPackage[1]!;
  if (url.startsWith('node:')) return url.split('/').slice(0, 2).join('/');
  return url.startsWith('file://') ? relative(process.cwd(), new URL(url).pathname) : url;
}

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const byOwner = new Map<string, number>();
  const byFunction = new Map<string, number>();
  let busy = 0;
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = nodes.get(id)!.callFrame;
    if (functionName === '(idle)') return;
    const micros = profile.timeDeltas[i] ?? 0;
    busy += micros;
    const owner = ownerOf(url, functionName);
    byOwner.set(owner, (byOwner.get(owner) ?? 0) + micros);
    const fn = `${functionName || '(anonymous)'} ${owner}${url ? `:${lineNumber + 1}` : ''}`;
    byFunction.set(fn, (byFunction.get(fn) ?? 0) + micros);
  });
  const top = (map: Map<string, number>, count: number) =>
    [...map]
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([name, micros]) => `${((micros / busy) * 100).toFixed(1).padStart(5)} %  ${name}`)
      .join('\n');
  console.log(`\n${file}: busy ${(busy / 1e6).toFixed(1)} s\n\nSelf time by package or file:\n${top(byOwner, 20)}\n\nFunctions with the most self time:\n${top(byFunction, 25)}`);
}
