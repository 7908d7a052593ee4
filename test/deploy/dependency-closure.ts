// Which packages `npm ci --omit=dev -w <dir>...` installs, worked out from the workspaces' package.json files and
// package-lock.json the way npm resolves them, without running npm. npm follows every edge of a workspace it installs,
// devDependencies included, and never marks a workspace package as dev in the lockfile, so a workspace reached through
// a devDependency is installed with its own dependencies; external packages reached only through devDependencies are
// flagged dev and left out.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

interface Manifest {
  name?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

interface LockEntry extends Manifest {
  link?: boolean;
  resolved?: string;
  dev?: boolean;
}

/** The workspace folders an `npm ci` command line installs (`-w apps/gateway`, `--workspace=apps/cli`). */
export function workspacesInstalledBy(commandLine: string): string[] {
  return [...commandLine.matchAll(/(?:^|\s)(?:-w|--workspace)(?:=|\s+)(\S+)/g)].map((match) => match[1]!.replace(/\/$/, ''));
}

/** Where Node would find `name` from a package at `location` (a lockfile key): the nearest node_modules upwards. */
function resolveFrom(lock: Record<string, LockEntry>, location: string, name: string): string | undefined {
  let dir = location;
  for (;;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (lock[candidate]) return candidate;
    if (dir === '') return undefined;
    const nested = dir.lastIndexOf('/node_modules/');
    dir = nested >= 0 ? dir.slice(0, nested) : '';
  }
}

/**
 * Every package name installed for `workspaces`, each with one chain of package names that brings it in.
 * `workspaceDevDependencies`: whether the workspaces' devDependencies are still in their manifests.
 */
export function installedClosure(root: string, workspaces: string[], options: { workspaceDevDependencies: boolean }): Map<string, string[]> {
  const lock = (JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }).packages;
  const found = new Map<string, string[]>();
  const visited = new Set<string>();
  const queue: Array<{ location: string; chain: string[] }> = workspaces.map((dir) => ({ location: dir, chain: [] }));
  while (queue.length > 0) {
    const { location, chain } = queue.shift()!;
    const entry = lock[location];
    if (!entry) throw new Error(`${location} is not in package-lock.json (run npm install)`);
    const target = entry.link && entry.resolved ? entry.resolved : location;
    if (visited.has(target)) continue;
    visited.add(target);
    const isWorkspace = !target.split('/').includes('node_modules');
    const manifest: Manifest = isWorkspace ? (JSON.parse(readFileSync(join(root, target, 'package.json'), 'utf8')) as Manifest) : (lock[target] ?? {});
    const name = manifest.name ?? target.slice(target.lastIndexOf('node_modules/') + 'node_modules/'.length);
    // npm --omit=dev leaves out what the lockfile flags dev; workspaces are never flagged.
    if (!isWorkspace && lock[target]?.dev) continue;
    const here = [...chain, name];
    if (!found.has(name)) found.set(name, here);
    const optionalPeers = new Set(Object.entries(manifest.peerDependenciesMeta ?? {}).filter(([, meta]) => meta.optional).map(([peer]) => peer));
    const edges: Array<[string, boolean]> = [
      ...Object.keys(manifest.dependencies ?? {}).map((dep): [string, boolean] => [dep, false]),
      ...Object.keys(manifest.optionalDependencies ?? {}).map((dep): [string, boolean] => [dep, true]),
      ...Object.keys(manifest.peerDependencies ?? {}).filter((dep) => !optionalPeers.has(dep)).map((dep): [string, boolean] => [dep, false]),
      ...(isWorkspace && options.workspaceDevDependencies ? Object.keys(manifest.devDependencies ?? {}).map((dep): [string, boolean] => [dep, false]) : []),
    ];
    for (const [dep, optional] of edges) {
      const resolved = resolveFrom(lock, target, dep);
      if (resolved) queue.push({ location: resolved, chain: here });
      else if (!optional) throw new Error(`${name} needs ${dep}, which package-lock.json does not hold`);
    }
  }
  return found;
}
