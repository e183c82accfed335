import type { AsyncBuffer, FileMetaData } from 'hyparquet'
import { parquetMetadata } from 'hyparquet'
import { markGeoColumns } from 'hyparquet/src/geoparquet.js'
import { ParquetSeekError } from '../errors.js'
import { checkMetadata } from './guard.js'

/**
 * Largest footer read: thrift metadata of even very wide files (thousands of columns × row
 * groups) stays in the tens of MiB. A length past it is a damaged or hostile file, refused
 * before anything is requested.
 */
export const MAX_FOOTER_BYTES = 64 << 20
/** The first read of a file's end when only the footer is wanted. */
const FOOTER_GUESS = 512 << 10

/**
 * `; it ends in text: "…"` when the last bytes are printable text — an HTML page a host sends for a
 * path it does not have, an error message saved as the file — else nothing.
 */
function endsInText(tail: Uint8Array): string {
  const end = tail.subarray(Math.max(0, tail.length - 48))
  if (!end.every((b) => b === 9 || b === 10 || b === 13 || (b >= 32 && b < 127))) return ''
  return `; it ends in text: ${JSON.stringify(
    `…${String.fromCharCode(...end)
      .replace(/\s+/g, ' ')
      .trim()}`,
  )}`
}

/**
 * What a Git LFS pointer (the ~130 bytes a repository holds in place of a large file, which a
 * raw.githubusercontent.com URL serves) is, and where the file is; '' for anything else.
 */
function lfsPointer(tail: Uint8Array, size: number, file?: string): string {
  if (size > 1024 || tail.length < size) return ''
  const text = new TextDecoder().decode(tail.subarray(tail.length - size))
  if (!text.startsWith('version https://git-lfs.github.com/spec/')) return ''
  const raw = file ? /^https:\/\/raw\.githubusercontent\.com\/([^/]+)\/([^/]+)\/([^?#]+)/.exec(file) : null
  return `not a Parquet file but a Git LFS pointer to one (${/size (\d+)/.exec(text)?.[1] ?? 'unknown'} bytes); ${
    raw
      ? `GitHub serves the file itself at https://media.githubusercontent.com/media/${raw[1]}/${raw[2]}/${raw[3]}`
      : 'fetch the file it points to (git lfs pull)'
  }`
}

/**
 * The footer's length from the file's last 8 bytes (`tail` ends at the file's end), checked
 * against the magic, the file size and MAX_FOOTER_BYTES.
 */
export function footerLength(tail: Uint8Array, size: number, file?: string): number {
  const pointer = lfsPointer(tail, size, file)
  if (pointer) throw new ParquetSeekError(pointer, { file })
  if (size < 12 || tail.length < 8) throw new ParquetSeekError(`not a Parquet file (${size} bytes)`, { file })
  if (String.fromCharCode(...tail.subarray(tail.length - 4)) !== 'PAR1')
    throw new ParquetSeekError(`not a Parquet file (no PAR1 magic at the end${endsInText(tail)})`, { file, offset: size - 4 })
  const length = new DataView(tail.buffer, tail.byteOffset, tail.byteLength).getUint32(tail.length - 8, true)
  if (length > size - 12) throw new ParquetSeekError(`footer length ${length} exceeds the file`, { file, offset: size - 8 })
  if (length > MAX_FOOTER_BYTES)
    throw new ParquetSeekError(`footer length ${length} is over the ${MAX_FOOTER_BYTES}-byte limit`, { file, offset: size - 8 })
  return length
}

/**
 * For a message about a file taken for something else (a sidecar, a manifest): that its first
 * bytes are a Parquet file's (`PAR1`), and which opens such a file; empty otherwise.
 */
export function parquetNote(head: Uint8Array): string {
  return String.fromCharCode(...head.subarray(0, 4)) === 'PAR1'
    ? ": it is a Parquet file, which openIndex opens (the CLI, the app and the widget take a name ending in .pqseek for a sidecar's, .json for a manifest's)"
    : ''
}

/** Parses the file's last bytes from the footer's start (metadata, length, magic) and runs the hostile-footer guard. */
export function parseFooter(footer: Uint8Array, size: number, file?: string, offset?: number): FileMetaData {
  let metadata: FileMetaData
  try {
    // GeoParquet columns are marked after the guard: hyparquet's marking walks the schema by its
    // children counts, and a negative count sent it round forever (fuzz server seed 800510)
    metadata = parquetMetadata(footer.slice().buffer, { geoparquet: false })
  } catch (e) {
    throw new ParquetSeekError(`unreadable Parquet footer (${(e as Error).message})`, { file, offset })
  }
  checkMetadata(metadata, size, file)
  try {
    markGeoColumns(metadata.schema, metadata.key_value_metadata)
  } catch (e) {
    throw new ParquetSeekError(`unreadable GeoParquet metadata (key "geo": ${(e as Error).message})`, { file, offset })
  }
  return metadata
}

/**
 * The one way to read a Parquet footer outside the search engine's open (which reads it with
 * the index head): one read of the file's end (two when the footer is longer), bounded,
 * validated; none where `known`, the file's last bytes already read, holds it. Every reader of
 * metadata goes through here or `footerLength` + `parseFooter`.
 */
export async function readMetadata(source: AsyncBuffer, file?: string, known?: Uint8Array): Promise<FileMetaData> {
  const size = source.byteLength
  if (size < 12) throw new ParquetSeekError(`not a Parquet file (${size} bytes)`, { file })
  const first = Math.min(size, FOOTER_GUESS)
  // (the file's last bytes, when the caller has read them: enough where they hold the footer)
  const tail = known && known.length >= 8 ? known : new Uint8Array(await source.slice(size - first, size))
  const length = footerLength(tail, size, file)
  const start = size - 8 - length
  const footer = length + 8 <= tail.length ? tail.subarray(tail.length - 8 - length) : new Uint8Array(await source.slice(start, size))
  return parseFooter(footer, size, file, start)
}

/** Offset indexes of a file larger than this are read when needed rather than kept at open. */
export const MAX_PAGE_INDEX_BYTES = 16 << 20

/** The byte range holding every column chunk's offset index (writers put them together, before the footer). */
export function offsetIndexSpan(metadata: FileMetaData): { start: number; end: number } | undefined {
  let start = Number.POSITIVE_INFINITY
  let end = 0
  for (const group of metadata.row_groups)
    for (const chunk of group.columns) {
      if (chunk.offset_index_offset === undefined || chunk.offset_index_length === undefined) continue
      start = Math.min(start, Number(chunk.offset_index_offset))
      end = Math.max(end, Number(chunk.offset_index_offset) + chunk.offset_index_length)
    }
  return end > start ? { start, end } : undefined
}

/**
 * The bytes at the end of a `size`-byte file that hold its footer and, where they lie just before
 * it and are at most MAX_PAGE_INDEX_BYTES, its offset indexes: what opening it for search reads
 * (a sidecar records it for each of its files, so that open asks for exactly that suffix).
 */
export function openingTail(metadata: FileMetaData, size: number): number {
  const footer = 8 + metadata.metadata_length
  const span = offsetIndexSpan(metadata)
  const near = span && span.end <= size - footer && span.end - span.start <= MAX_PAGE_INDEX_BYTES
  return near ? size - span.start : footer
}
