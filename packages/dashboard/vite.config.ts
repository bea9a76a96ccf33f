import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/** The API the dev server proxies to (`npm start -- --dev`); the built files are served by serve.ts. */
const api = process.env.LIGHTDOM_API_URL ?? 'http://127.0.0.1:3001';

export default defineConfig({
  plugins: [react()],
  server: {
    port: Number(process.env.PORT ?? 3000),
    // Loopback like every service (Vite's "localhost" may be ::1 only); HOST as serve.ts reads it.
    host: process.env.HOST || '127.0.0.1',
    strictPort: true,
    proxy: {
      '/api': { target: api, changeOrigin: false },
      '/ws': { target: api.replace(/^http/, 'ws'), ws: true, changeOrigin: false },
    },
  },
  build: { outDir: 'dist', chunkSizeWarningLimit: 2000 },
});
