import { defineConfig } from 'vite';

/**
 * The studio is static files the gateway serves at `/`, under a strict Content-Security-Policy: no
 * inline script or style anywhere in the output (Vite links its JS and CSS as files; assets are never
 * inlined as data: URLs).
 */
export default defineConfig({
  root: import.meta.dirname,
  publicDir: 'public',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    // Every browser that runs ES2022 modules supports modulepreload; the polyfill would only add bytes.
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: {
    // `npm run dev -w @curator/web` next to a gateway on the default port (`npm start`).
    proxy: Object.fromEntries(['/jobs', '/workers', '/healthz', '/readyz', '/docs'].map((path) => [path, 'http://127.0.0.1:8080'])),
  },
});
