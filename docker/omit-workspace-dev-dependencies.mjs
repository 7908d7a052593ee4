// Run in the manifests stage of the app images, before `npm ci --omit=dev -w <app>`: removes the devDependencies of
// every workspace from its package.json and from package-lock.json (both, so `npm ci` still finds them in sync).
// Why: npm never flags a workspace package as dev in the lockfile, so `--omit=dev` keeps a workspace that an app
// reaches only through a devDependency (test helpers, generated test models, the embedded S3 server) together with
// its own dependencies. Without the dev edges, `-w <app>` installs exactly the production closure of the app.
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = 'package-lock.json';
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
let stripped = 0;
for (const [path, entry] of Object.entries(lock.packages)) {
  // Workspace entries are keyed by their folder (`apps/gateway`); installed packages live under node_modules/.
  if (path === '' || path.split('/').includes('node_modules') || !entry.devDependencies) continue;
  delete entry.devDependencies;
  const manifestPath = `${path}/package.json`;
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
  delete manifest.devDependencies;
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
  stripped++;
}
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`devDependencies removed from ${stripped} workspace manifests`);
