import { decompress as decompressZstd } from 'fzstd'
import type { Compressors } from 'hyparquet'
import { gunzip } from 'hyparquet-compressors/src/gzip.js'

/**
 * hyparquet-compressors without Brotli (its 80 KB dictionary would double the widget) and
 * without the WASM Snappy (hyparquet's own Snappy decoder serves); LZ4 comes from
 * src/parquet/codecs.ts, as everywhere. The widget build aliases
 * `hyparquet-compressors` to this module (vite.widget.config.ts).
 */
export const compressors: Compressors = {
  GZIP: (input, length) => gunzip(input, new Uint8Array(length)),
  ZSTD: (input) => decompressZstd(input),
  BROTLI: () => {
    throw new Error('the <parquet-seek> widget does not decode BROTLI columns (to stay small); write the file with ZSTD or SNAPPY')
  },
}
