/** Node additions to the public API: local files in, atomic files out. */

export { fileSink, fileSource } from './io/nodeFile.js'
export * from './lib.js'
