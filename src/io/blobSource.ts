import type { ByteSource } from './source.js'

/** A browser File or Blob as a byte source: reads only the requested slice, never the whole file. */
export function blobSource(blob: Blob, name = (blob as Partial<File>).name ?? 'blob'): ByteSource {
  return {
    byteLength: blob.size,
    name,
    local: true,
    slice: async (start, end) => blob.slice(start, end).arrayBuffer(),
  }
}
