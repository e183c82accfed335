import type { AsyncBuffer, FileMetaData } from 'hyparquet'
import { ParquetSeekError } from '../errors.js'
import type { DirectoryEntry, ParseContext, Trailer } from './blob.js'
import { checkSection, parseDirectory, parseTrailer, readCentroids, readCodebooks } from './blob.js'
import { KV } from './keys.js'

export interface IndexLocation {
  column: string
  offset: number
  length: number
  params: Record<string, unknown>
}

/** The index's place in the file per the footer's key-value entries, validated against the file size. */
export function locateIndex(metadata: FileMetaData, byteLength: number, file?: string): IndexLocation | undefined {
  const kv = new Map((metadata.key_value_metadata ?? []).map((e) => [e.key, e.value]))
  if (!kv.has(KV.offset)) return undefined
  const offset = Number(kv.get(KV.offset))
  const length = Number(kv.get(KV.length))
  const column = kv.get(KV.column) ?? ''
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 4 || length < 64 || offset + length > byteLength) {
    throw new ParquetSeekError(`index location [${kv.get(KV.offset)}, +${kv.get(KV.length)}) is not inside the ${byteLength}-byte file`, {
      file,
      section: 'key-value metadata',
    })
  }
  let params: unknown
  try {
    params = JSON.parse(kv.get(KV.params) ?? '{}')
  } catch {
    throw new ParquetSeekError(`${KV.params} is not JSON`, { file, section: 'key-value metadata' })
  }
  if (typeof params !== 'object' || params === null || Array.isArray(params))
    throw new ParquetSeekError(`${KV.params} is ${JSON.stringify(params)}, not a JSON object`, { file, section: 'key-value metadata' })
  return { column, offset, length, params: params as Record<string, unknown> }
}

/**
 * How many of the file's last bytes opening it for search needs: the index head (trailer,
 * centroids, codebooks, directory) and everything after it (the footer). `info`'s openBytes.
 */
export function openBytesOf(fileBytes: number, location: IndexLocation, trailer: Trailer): number {
  return fileBytes - (location.offset + location.length - trailer.headBytes)
}

export interface LoadedIndexHead {
  location: IndexLocation
  trailer: Trailer
  centroids: Float32Array
  codebooks: Float32Array
  directory: DirectoryEntry[]
  /** Rows spilled into second lists (IndexParams.spilled). */
  spilled: boolean
}

/** Reads and checks everything but the lists (one read of the blob's tail). */
export async function loadIndexHead(
  source: AsyncBuffer,
  location: IndexLocation,
  file?: string,
  headBytes?: number,
): Promise<LoadedIndexHead> {
  const ctx: ParseContext = { file, blobOffset: location.offset }
  const blobEnd = location.offset + location.length
  // (the head's size where the caller knows it — a sidecar records it — else a guess, grown below)
  const firstRead = Math.min(location.length, Math.max(headBytes ?? 0, 1 << 16))
  let tail = new Uint8Array(await source.slice(blobEnd - firstRead, blobEnd))
  let trailer = parseTrailerOrGrow(tail, location.length, ctx)
  if (trailer === undefined || tail.length < trailer.headBytes) {
    const need = trailer ? trailer.headBytes : location.length
    tail = new Uint8Array(await source.slice(blobEnd - need, blobEnd))
    trailer = parseTrailer(tail, location.length, ctx)
  }
  return { location, ...headSections(tail, location.length - tail.length, trailer, ctx) }
}

/**
 * Centroids, codebooks and directory out of bytes of the blob starting at blob offset `base`,
 * each CRC-checked. Shared by `info` and the search engine's open.
 */
export function headSections(bytes: Uint8Array, base: number, trailer: Trailer, ctx: ParseContext) {
  const section = (name: keyof Trailer['sections']) => {
    const s = trailer.sections[name]
    const view = bytes.subarray(s.offset - base, s.offset - base + s.length)
    checkSection(view, s, ctx)
    return view
  }
  const directory = parseDirectory(section('directory'), trailer, ctx)
  return {
    trailer,
    centroids: readCentroids(section('centroids'), trailer, ctx),
    codebooks: readCodebooks(section('codebooks'), trailer, ctx),
    directory,
    spilled: directory.some((e) => e.spilled > 0),
  }
}

function parseTrailerOrGrow(tail: Uint8Array, blobLength: number, ctx: ParseContext): Trailer | undefined {
  try {
    return parseTrailer(tail, blobLength, ctx)
  } catch (e) {
    // A table larger than the first read: read more rather than fail.
    if (e instanceof ParquetSeekError && e.context.section === 'section-table' && tail.length < blobLength) return undefined
    throw e
  }
}
