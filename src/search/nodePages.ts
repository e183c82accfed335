import { nodeWorkers } from '../compute/nodePool.js'

/** Node page workers (worker_threads running nodePageWorker.js from the built package): OpenOptions.spawnWorker. */
export const spawnNodePageWorker = nodeWorkers(new URL('./nodePageWorker.js', import.meta.url))
