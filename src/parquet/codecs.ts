import type { Compressors } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { lz4DecompressBlock, lz4DecompressHadoop } from './lz4.js'

/**
 * The decompressors every page read goes through: hyparquet-compressors' (the widget build
 * swaps in a smaller set), with LZ4 and LZ4_RAW replaced by decoders that stop at the page's
 * declared size (lz4.ts says why).
 */
export const codecs: Compressors = {
  ...compressors,
  LZ4: lz4DecompressHadoop,
  LZ4_RAW: lz4DecompressBlock,
}
