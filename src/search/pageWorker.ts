import * as Comlink from 'comlink'
import type { CompressionCodec } from 'hyparquet'
import type { EmbeddingColumn } from '../parquet/embedding.js'
import { decodeVectorPages } from '../parquet/vectorPage.js'

/**
 * What a page worker does (exposed with comlink; Node: nodePageWorker.js, a browser: a module
 * Worker running `Comlink.expose(pageWorkerApi())`): a large search's vector pages decoded
 * beside the searching thread (pageDecoding.ts).
 */
export function pageWorkerApi() {
  return {
    /**
     * One-vector pages packed end to end in `bytes` (page i ends at ends[i]) decoded into `out`
     * (grown when short), both handed back for the next call — `out` in shared memory is written
     * in place (the caller's own vectors); a page that does not decode gives its error's message
     * instead (the caller decodes that part again to name the page: file, row, offset).
     */
    decodePages(
      bytes: Uint8Array,
      ends: Uint32Array,
      column: Pick<EmbeddingColumn, 'kind' | 'element'>,
      codec: CompressionCodec,
      dim: number,
      out: Float32Array,
    ): DecodedPages {
      const pages = Array.from(ends, (end, i) => bytes.subarray(i ? (ends[i - 1] as number) : 0, end))
      const vectors = out.length >= pages.length * dim ? out : new Float32Array(pages.length * dim)
      let error: string | undefined
      try {
        decodeVectorPages(pages, column, codec, dim, vectors, (row) => ({ column: '', offset: 0, row }))
      } catch (e) {
        error = (e as Error).message
      }
      return Comlink.transfer({ bytes, out: vectors, error }, isShared(vectors) ? [bytes.buffer] : [bytes.buffer, vectors.buffer])
    },
  }
}

export type PageWorkerApi = ReturnType<typeof pageWorkerApi>

/** What decodePages hands back: its buffers, the vectors in `out` unless `error`. */
export interface DecodedPages {
  bytes: Uint8Array
  out: Float32Array
  error: string | undefined
}

/** Whether `a` lies in shared memory (workers write decoded vectors straight into it). */
export function isShared(a: Float32Array): boolean {
  return typeof SharedArrayBuffer === 'function' && a.buffer instanceof SharedArrayBuffer
}
