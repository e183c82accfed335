/** Node additions to the public API: local files in, atomic files out, worker_threads for builds and large searches,
 * WebGPU through the `webgpu` package (Dawn). Loading io/nodeFile.js lets the library's opens take local paths (io/local.ts). */

import { registerUseLiteNode } from './encode/useLiteNode.js'

export { nodeGpu } from './compute/gpu/node.js'
export { decodeThreads, defaultThreads, spawnNodeKernelWorker } from './compute/nodePool.js'
export { pooledUseLiteNode, registerUseLiteNode } from './encode/useLiteNode.js'
export { fileSink, fileSource } from './io/nodeFile.js'
export * from './lib.js'
export { spawnNodePageWorker } from './search/nodePages.js'

// a file's model answers encoderFor(index.encoder) in Node as in the app: use-lite-512's weights
// come with the package (loaded on the first encode, not here)
registerUseLiteNode()
