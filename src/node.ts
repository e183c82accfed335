/** Node additions to the public API: local files in, atomic files out, worker_threads for builds. */

export { defaultThreads, spawnNodeKernelWorker } from './compute/nodePool.js'
export { fileSink, fileSource } from './io/nodeFile.js'
export * from './lib.js'
