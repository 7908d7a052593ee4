// Plain JavaScript so it runs on any Node: says clearly what to do when this Node cannot run
// Curator's TypeScript sources (type stripping needs Node 22.18+).
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 18)) {
  console.error(
    `Curator needs Node.js 22.18 or newer (it runs its TypeScript sources directly); this is ${process.version}.\n` +
      'Install a current Node (https://nodejs.org), or put Node 24 from the npm registry on PATH for this shell:\n' +
      '  . scripts/ensure-node.sh && npm start',
  );
  process.exit(1);
}
