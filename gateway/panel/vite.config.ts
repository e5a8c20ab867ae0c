/**
 * Vite config of the control-room panel. Run from the repository root with the panel
 * folder as Vite's root: `vite build gateway/panel` (npm run build:panel, and npm ci's
 * prepare). The output, dist/, is what gateway/src/api/panel.ts serves at `/`.
 */
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [preact()],
  // Relative URLs: the panel works behind a reverse proxy under any path.
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // No CDN, no inline fetches from elsewhere: everything is served by the gateway (it runs offline).
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 200,
  },
  server: {
    // `npx vite gateway/panel` for development, against a gateway on :8080.
    proxy: { '/api': 'http://127.0.0.1:8080', '/healthz': 'http://127.0.0.1:8080' },
  },
});
