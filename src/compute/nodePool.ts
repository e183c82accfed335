import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs'
import type { SpawnKernelWorker } from './pool.js'

/** Starts worker_threads running `script` (unreferenced: a pool never keeps the process alive). */
export function nodeWorkers(script: URL): SpawnKernelWorker {
  return () => {
    const worker = new Worker(script)
    worker.unref()
    return { endpoint: nodeEndpoint(worker as never), terminate: () => void worker.terminate() }
  }
}

/** Node kernel workers (worker_threads running nodeKernelWorker.js from the built package). */
export const spawnNodeKernelWorker = nodeWorkers(new URL('../index/nodeKernelWorker.js', import.meta.url))

/**
 * Default threads decoding a large search's vector pages in Node: every core, at most 16 (a
 * worker holds only its part's buffers; an H200 host's 16 cores decode a 10,000-query batch's
 * pages on 8 threads in 485 ms, on one in 922).
 */
export function decodeThreads(): number {
  return Math.max(1, Math.min(16, availableParallelism()))
}

/** Default build threads in Node: every core, at most 8. */
export function defaultThreads(): number {
  return Math.max(1, Math.min(8, availableParallelism()))
}
