import type { AsyncBuffer, ColumnChunk, CompressionCodec, FileMetaData, OffsetIndex, SchemaTree } from 'hyparquet'
import { ByteWriter } from 'hyparquet-writer'
import { writeColumn } from 'hyparquet-writer/src/column.js'
import { encodeNestedValues } from 'hyparquet-writer/src/dremel.js'
import { type ColumnBlock, readColumnRange } from './embedding.js'
import { lz4Compress } from './lz4.js'

type PageLocation = OffsetIndex['page_locations'][number]

/** A copied chunk whose largest page exceeds this is re-paged, when its type allows. */
export const PAGE_LIMIT = 64 << 10
/** Target uncompressed size of re-written pages: a few rows' values cost a few KiB to fetch. */
export const TARGET_PAGE = 16 << 10

const PLAIN_LOGICAL = new Set([
  'UTF8',
  'STRING',
  'JSON',
  'ENUM',
  'INTEGER',
  'INT_8',
  'INT_16',
  'INT_32',
  'INT_64',
  'UINT_8',
  'UINT_16',
  'UINT_32',
  'UINT_64',
])

/** Dates and times stored as INT32/INT64: read as their integers (readColumnRange's rawBytes), written back as such. */
const TIME_LOGICAL = new Set(['DATE', 'TIME', 'TIME_MILLIS', 'TIME_MICROS', 'TIMESTAMP', 'TIMESTAMP_MILLIS', 'TIMESTAMP_MICROS'])

/** Widest DECIMAL moved: hyparquet reads it as a double, from which the writer rounds back its integer. */
const MAX_DECIMAL_DIGITS = 15

/**
 * Only flat columns of types whose values survive decode → encode bit for bit (byte arrays
 * are kept as bytes, never decoded as text; dates, times and DECIMALs of INT32/INT64 as the
 * integers they store), lists of such values but floats, and fields of structs of them.
 * Everything else is copied as it was.
 */
export function canRepage(tree: SchemaTree[]): boolean {
  // a flat column, a LIST of one (3-level: the list group, its repeated group, the element), or
  // a field of a struct of them (hyparquet reads the struct as objects, the writer takes the field)
  const top = tree[1]?.element
  const isList =
    tree.length === 4 &&
    (top?.converted_type === 'LIST' || top?.logical_type?.type === 'LIST') &&
    top.repetition_type !== 'REPEATED' &&
    tree[2]?.element.repetition_type === 'REPEATED' &&
    tree[2].children.length === 1
  const isStructField =
    tree.length === 3 &&
    top !== undefined &&
    !top.type &&
    top.repetition_type !== 'REPEATED' &&
    top.converted_type === undefined &&
    top.logical_type === undefined
  if (tree.length !== 2 && !isList && !isStructField) return false
  const el = tree.at(-1)?.element
  if (!el?.type || el.repetition_type === 'REPEATED') return false
  // a list of floats is likely another vector column: decoded as arrays of numbers it would take
  // many times its bytes (the embedding column itself is held as one typed matrix)
  if (isList && (el.type === 'FLOAT' || el.type === 'DOUBLE')) return false
  if (!['BYTE_ARRAY', 'INT32', 'INT64', 'FLOAT', 'DOUBLE', 'BOOLEAN'].includes(el.type)) return false
  const logical = el.logical_type?.type ?? el.converted_type
  if (logical === undefined || PLAIN_LOGICAL.has(logical)) return true
  if (el.type !== 'INT32' && el.type !== 'INT64') return false
  if (TIME_LOGICAL.has(logical)) return true
  const digits = el.logical_type?.type === 'DECIMAL' ? el.logical_type.precision : el.precision
  return logical === 'DECIMAL' && digits !== undefined && digits <= MAX_DECIMAL_DIGITS
}

/** Re-encodes one flat column chunk with small pages (hyparquet → hyparquet-writer). */
export async function repageChunk(
  writer: ByteWriter,
  source: AsyncBuffer,
  metadata: FileMetaData,
  tree: SchemaTree[],
  rowStart: number,
  rowEnd: number,
  codec: CompressionCodec,
  file?: string,
): Promise<{ chunk: ColumnChunk; locations: PageLocation[] }> {
  const name = tree[1]?.element.name as string
  const values = await readColumnRange(source, metadata, name, rowStart, rowEnd, file, undefined, true)
  return writeFlatChunk(writer, tree, values, codec)
}

/**
 * Writes one flat column chunk of `values` (as readColumnRange gives them with raw bytes) in
 * small pages, with statistics and an offset index; `tree` runs from the root to the leaf and
 * must pass canRepage. `writer.offset` must be the absolute file offset.
 */
export function writeFlatChunk(
  writer: ByteWriter,
  tree: SchemaTree[],
  values: unknown[],
  codec: CompressionCodec,
  /** `plain`: no dictionary (a block of a chunk written a block at a time), no statistics. */
  plain = false,
): { chunk: ColumnChunk; locations: PageLocation[] } {
  const name = tree[1]?.element.name as string
  const start = writer.offset
  // LZ4_RAW through our own block compressor, which DuckDB and Arrow read back in every test;
  // re-paged SNAPPY pages from hyparquet-writer were rejected by DuckDB on long text.
  const written: CompressionCodec = codec === 'UNCOMPRESSED' ? codec : 'LZ4_RAW'
  const result = writeColumn({
    writer,
    column: {
      columnName: name,
      element: tree.at(-1)?.element as never,
      schemaPath: tree.map((n) => n.element),
      codec: written,
      compressors: { LZ4_RAW: lz4Compress },
      stats: !plain,
      pageSize: TARGET_PAGE,
      columnIndex: false,
      offsetIndex: true,
      ...(plain ? { encoding: 'PLAIN' as const } : {}),
    },
    pageData: encodeNestedValues(tree, values as never),
  })
  const locations = result.offsetIndex?.page_locations ?? [
    { offset: BigInt(start), compressed_page_size: writer.offset - start, first_row_index: 0n },
  ]
  // a dictionary page, when written, precedes the first data page
  return { chunk: result.chunk, locations }
}

/** Where a chunk written a block at a time goes: the file's current offset, and its writer. */
export interface BlockOut {
  offset(): number
  emit(bytes: Uint8Array): Promise<void>
}

/**
 * repageChunk a block of rows at a time (`blocks`, from readColumnBlocks with rawBytes, the first
 * beginning at the group's row `groupStart`), each block's pages emitted as written, so a large row
 * group is never decoded whole. The pages are PLAIN (a dictionary is one a chunk, known only from
 * every value), and the chunk keeps the input chunk's `statistics`: the same values, so the same
 * bounds, which `--where` skips row groups by.
 */
export async function repageChunkInBlocks(
  out: BlockOut,
  tree: SchemaTree[],
  blocks: AsyncIterable<ColumnBlock>,
  groupStart: number,
  codec: CompressionCodec,
  statistics: NonNullable<ColumnChunk['meta_data']>['statistics'],
): Promise<{ chunk: ColumnChunk; locations: PageLocation[] }> {
  const name = tree[1]?.element.name as string
  const start = out.offset()
  const locations: PageLocation[] = []
  let first: ColumnChunk | undefined
  let values = 0n
  let uncompressed = 0n
  for await (const { rowStart, values: rows } of blocks) {
    const writer = new ByteWriter()
    writer.offset = out.offset()
    const block = writeFlatChunk(writer, tree, rows, codec, true)
    await out.emit(writer.getBytes())
    first ??= block.chunk
    values += block.chunk.meta_data?.num_values ?? 0n
    uncompressed += block.chunk.meta_data?.total_uncompressed_size ?? 0n
    for (const p of block.locations) locations.push({ ...p, first_row_index: p.first_row_index + BigInt(rowStart - groupStart) })
  }
  const meta = first?.meta_data
  if (!meta) throw new Error(`no rows to write for "${name}"`)
  return {
    chunk: {
      file_offset: BigInt(start),
      meta_data: {
        ...meta,
        num_values: values,
        total_compressed_size: BigInt(out.offset() - start),
        total_uncompressed_size: uncompressed,
        data_page_offset: BigInt(start),
        dictionary_page_offset: undefined,
        statistics,
        encoding_stats: [{ page_type: 'DATA_PAGE_V2', encoding: 'PLAIN', count: locations.length }],
      },
    },
    locations,
  }
}
