import type { AsyncBuffer } from 'hyparquet'

/** A browser File or Blob as a byte source: reads only the requested slice, never the whole file. */
export function blobSource(blob: Blob): AsyncBuffer {
  return {
    byteLength: blob.size,
    slice: (start, end) => blob.slice(start, end).arrayBuffer(),
  }
}
