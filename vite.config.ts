import react from '@vitejs/plugin-react'
import { defineConfig } from 'vitest/config'

// Relative base: the built site works from any static host under any path.
export default defineConfig({
  base: './',
  plugins: [react()],
  worker: { format: 'es' },
  build: { outDir: 'dist', target: 'es2022' },
  test: { include: ['test/**/*.test.ts'], testTimeout: 60_000 },
})
