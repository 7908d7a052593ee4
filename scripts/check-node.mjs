// Plain JavaScript so it runs on any Node: says clearly what to do when this Node cannot run
// Curator's TypeScript sources (type stripping needs Node 22.18+). Runs first in `npm install`
// (preinstall), `npm start`, `npm test` and `npm run curator`.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  const event = process.env.npm_lifecycle_event;
  const again = event === 'preinstall' || !event ? 'npm install' : event === 'start' || event === 'test' ? `npm ${event}` : `npm run ${event}`;
  console.error(
    `\nCurator needs Node.js 22.18 or newer (it runs its TypeScript sources directly); this is ${process.version}.\n` +
      'Install a current Node (https://nodejs.org, or your version manager: `nvm install 24`), or put Node 24\n' +
      'from the npm registry on PATH for this shell, then run the command again:\n' +
      `  . scripts/ensure-node.sh && ${again}\n`,
  );
  process.exit(1);
}
