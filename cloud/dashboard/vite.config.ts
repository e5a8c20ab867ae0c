/**
 * Vite config of the company dashboard (issue 8), served by the cloud at /dashboard/
 * (cloud/src/plugins/dashboard.ts). Build from the repository root:
 * `vite build cloud/dashboard` (npm run build:dashboard, and npm ci's prepare).
 */
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  plugins: [preact()],
  base: './',
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', assetsInlineLimit: 0 },
  server: { proxy: { '/v1': 'http://127.0.0.1:8090' } },
});
