import type { AsyncBuffer } from 'hyparquet'
import { ParquetSeekError } from '../errors.js'
import { type ByteSource, fromBytes } from './source.js'

/** A browser File or Blob as a byte source: reads only the requested slice, never the whole file. */
export function blobSource(blob: Blob, name = (blob as Partial<File>).name ?? 'blob'): ByteSource {
  return {
    byteLength: blob.size,
    name,
    local: true,
    slice: async (start, end) => blob.slice(start, end).arrayBuffer(),
  }
}

/** What the library reads a file from, besides an address: a File or Blob, the file's bytes, a byte source. */
export type FileInput = ByteSource | Blob | ArrayBuffer | Uint8Array

/** What `readable` takes, in its messages. */
export const TAKES_BYTES = 'a File or Blob, or a byte source ({ byteLength, slice(start, end) }; in Node, fileSource(path))'
/** What a build's input may be (buildIndex, embedTextColumn). */
export const TAKES_FILE = 'a File or Blob, a byte source ({ byteLength, slice(start, end) }), or in Node a path'
/** What the opens that also take an address take. */
export const TAKES_ADDRESS = 'a URL (in Node a path), a File or Blob, or a byte source ({ byteLength, slice(start, end) })'

/**
 * What the library reads a file's bytes through, from what a caller hands it: a File or Blob
 * (from a page's file input or a drop) read as `blobSource` reads it, the file's bytes (an
 * ArrayBuffer or a typed array: named "bytes" in errors), or a byte source as it is.
 * Anything else is refused, naming what it got. (A Blob's `slice` answers a Blob, not bytes:
 * handed one as a byte source, Node aborted.)
 */
export function readable<T extends AsyncBuffer>(
  input: T | Blob | ArrayBuffer | Uint8Array,
  what: string,
  takes = TAKES_BYTES,
): T | ByteSource {
  if (input instanceof URL)
    throw new ParquetSeekError(`${what} takes ${takes}; got a URL object${takes === TAKES_ADDRESS ? ' (give its string: url.href)' : ''}`)
  if (typeof Blob !== 'undefined' && input instanceof Blob) return blobSource(input)
  // the file's bytes in memory (a Uint8Array's slice answers a Uint8Array, not an ArrayBuffer)
  if (input instanceof ArrayBuffer || ArrayBuffer.isView(input)) {
    const view = input instanceof ArrayBuffer ? new Uint8Array(input) : new Uint8Array(input.buffer, input.byteOffset, input.byteLength)
    return fromBytes(view, 'bytes')
  }
  const candidate = input as Partial<AsyncBuffer> | null
  if (
    typeof candidate !== 'object' ||
    candidate === null ||
    typeof candidate.slice !== 'function' ||
    !Number.isSafeInteger(candidate.byteLength)
  )
    throw new ParquetSeekError(`${what} takes ${takes}; got ${kindOf(input)}`)
  return input as T
}

function kindOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value !== 'object') return `a ${typeof value}`
  const name = (value as object).constructor?.name
  return !name || name === 'Object' ? 'an object without them' : `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`
}
