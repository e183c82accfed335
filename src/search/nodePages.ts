import { Worker } from 'node:worker_threads'
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs'
import type { SpawnWorker } from './pageDecoding.js'

/** Node page workers (worker_threads running nodePageWorker.js from the built package): OpenOptions.spawnWorker. */
export const spawnNodePageWorker: SpawnWorker = () => {
  const worker = new Worker(new URL('./nodePageWorker.js', import.meta.url))
  worker.unref()
  return { endpoint: nodeEndpoint(worker as never), terminate: () => void worker.terminate() }
}
