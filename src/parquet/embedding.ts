import type { AsyncBuffer, FileMetaData, ParquetParsers, SchemaElement, SchemaTree } from 'hyparquet'
import { parquetRead, parquetSchema } from 'hyparquet'
import { overlong } from '../compute/metric.js'
import { sharedFloats } from '../compute/pool.js'
import { decoding, ParquetSeekError, throwIfAborted } from '../errors.js'
import { withSignal } from '../io/source.js'
import { ChunkStream } from './chunkStream.js'
import { codecs } from './codecs.js'
import { decimalScales, exactDecimal } from './decimal.js'
import { guardPages } from './guard.js'
import { listLeaf } from './leaves.js'
import { isRepeatedColumn, readListRows } from './listRows.js'
import { readListVectors, type VectorMatrix } from './listVectors.js'
import { chunkInfo, type PageTable, pageTableOptions, rememberPages, walkChunkOnce, walkForRows } from './pageLocations.js'

/**
 * Which physical shapes of an embedding column we read, and how.
 * - `list`: LIST (3-level or legacy 2-level) of numbers (`element`) — DuckDB, pyarrow/Spark,
 *   arrow-rs (FixedSizeList is written as a LIST in Parquet).
 * - `flba`: FIXED_LEN_BYTE_ARRAY holding dim little-endian float32 values (`element` FLOAT).
 */
export interface EmbeddingColumn {
  name: string
  kind: 'list' | 'flba'
  element: VectorElement
  /** Known from the schema for `flba`; otherwise from the first non-null row. */
  dim: number | undefined
  /** Index among the file's leaf columns (= position in each row group's `columns`). */
  leafIndex: number
  /** Schema path from the root (exclusive) to the leaf. */
  leafPath: SchemaTree[]
}

export function describeEmbeddingColumn(metadata: FileMetaData, name: string, file?: string): EmbeddingColumn {
  const root = parquetSchema(metadata)
  const top = root.children.find((c) => c.element.name === name)
  if (!top) {
    const names = root.children.map((c) => c.element.name).join(', ')
    throw new ParquetSeekError(`no such column; the columns are: ${names}`, { file, column: name })
  }
  const found = vectorShape(top)
  if (!found) {
    const candidates = findEmbeddingColumns(metadata).map((c) => c.name)
    const hint = candidates.length ? `; vector columns here: ${candidates.join(', ')}` : '; this file has no vector column'
    // wider integers may not be exact in float32: say how to make them FLOAT
    const numbers = isNumberList(top)
      ? ` (write it as FLOAT first, e.g. DuckDB: COPY (SELECT * REPLACE (${sqlName(name)}::FLOAT[] AS ${sqlName(name)}) FROM 'in.parquet') TO 'out.parquet')`
      : isText(top)
        ? ' (it holds text: embed it first, e.g. parquetseek index in.parquet out.parquet --embed-text ' + name + ')'
        : ''
    throw new ParquetSeekError(`is ${describeType(top)}, not a vector of ${VECTOR_TYPES}${numbers}${hint}`, { file, column: name })
  }
  return { name, ...found, leafIndex: leafIndexOf(root, found.leafPath) }
}

export interface ColumnSummary {
  name: string
  /** Physical type of a leaf, or the logical/converted type of a group (LIST, MAP, …). */
  type: string
  logicalType: string | undefined
  /** A LIST's values, as `type` and `logicalType` name a leaf: `FLOAT`, `BYTE_ARRAY (UTF8)`, `a group`. */
  element?: string
  nullable: boolean
}

/** The top-level columns as `info` and the page list them. */
export function summarizeColumns(metadata: FileMetaData): ColumnSummary[] {
  return parquetSchema(metadata).children.map((c) => {
    const leaf = c.children.length ? listLeaf(c) : undefined
    const isList = c.element.converted_type === 'LIST' || c.element.logical_type?.type === 'LIST'
    return {
      name: c.element.name,
      type: c.children.length ? (c.element.logical_type?.type ?? c.element.converted_type ?? 'GROUP') : String(c.element.type),
      logicalType: c.element.logical_type?.type ?? c.element.converted_type,
      ...(isList ? { element: leaf ? describeType(leaf) : 'a group' } : {}),
      nullable: c.element.repetition_type !== 'REQUIRED',
    }
  })
}

/** Every top-level column that can hold embeddings, for pickers and error hints. */
export function findEmbeddingColumns(metadata: FileMetaData): EmbeddingColumn[] {
  const root = parquetSchema(metadata)
  const out: EmbeddingColumn[] = []
  for (const top of root.children) {
    const found = vectorShape(top)
    if (found) out.push({ name: top.element.name, ...found, leafIndex: leafIndexOf(root, found.leafPath) })
  }
  return out
}

type Shape = Omit<EmbeddingColumn, 'name' | 'leafIndex'>

function vectorShape(top: SchemaTree): Shape | undefined {
  const el = top.element
  if (!top.children.length) {
    if (el.type !== 'FIXED_LEN_BYTE_ARRAY' || !el.type_length || el.type_length % 4 !== 0) return undefined
    if (el.logical_type || el.converted_type || el.repetition_type === 'REPEATED') return undefined
    return { kind: 'flba', element: 'FLOAT', dim: el.type_length / 4, leafPath: [top] }
  }
  const leaf = listLeaf(top)
  const element = leaf && vectorElement(leaf.element)
  if (!leaf || !element) return undefined
  // 2-level legacy list: the repeated node is the number leaf itself
  const repeated = top.children[0] as SchemaTree
  const leafPath = leaf === repeated ? [top, repeated] : [top, repeated, leaf]
  return { kind: 'list', element, dim: undefined, leafPath }
}

/**
 * The numbers a vector list may hold: floats, half floats (FIXED_LEN_BYTE_ARRAY(2), FLOAT16),
 * and 8- or 16-bit integers (INT32 annotated INT(8|16), as DuckDB and pyarrow write TINYINT[],
 * int8 lists and the like — quantized embeddings). Each is exact in float32, which search
 * computes in; the column keeps its type when rewritten.
 */
export type VectorElement = 'FLOAT' | 'DOUBLE' | 'FLOAT16' | 'INT8' | 'UINT8' | 'INT16' | 'UINT16'

const VECTOR_TYPES = 'FLOAT, DOUBLE, FLOAT16 or 8- or 16-bit integers'

/** A list leaf's vector element type, or undefined when its values are not one. */
export function vectorElement(el: SchemaElement): VectorElement | undefined {
  if (el.type === 'FLOAT' || el.type === 'DOUBLE') return el.type
  if (el.type === 'FIXED_LEN_BYTE_ARRAY') return el.type_length === 2 && el.logical_type?.type === 'FLOAT16' ? 'FLOAT16' : undefined
  if (el.type !== 'INT32') return undefined
  const logical = el.logical_type
  if (logical?.type === 'INTEGER')
    return logical.bitWidth === 8 || logical.bitWidth === 16
      ? (`${logical.isSigned ? '' : 'U'}INT${logical.bitWidth}` as VectorElement)
      : undefined
  const converted = el.converted_type
  return converted === 'INT_8' || converted === 'INT_16' || converted === 'UINT_8' || converted === 'UINT_16'
    ? (converted.replace('_', '') as VectorElement)
    : undefined
}

/**
 * How a vector page of `element` stores its values. Integers (8- and 16-bit, stored as INT32)
 * are DELTA_BINARY_PACKED: a vector's steps packed in the bits they need — a 100-d int8 vector
 * in 126 bytes, where PLAIN took 4 bytes a value (331 after LZ4, which finds little in sign bytes).
 * Floats are PLAIN.
 */
export function pageEncoding(element: VectorElement): 'PLAIN' | 'DELTA_BINARY_PACKED' {
  return element === 'FLOAT' || element === 'DOUBLE' || element === 'FLOAT16' ? 'PLAIN' : 'DELTA_BINARY_PACKED'
}

/** Bytes one value of `element` takes in a PLAIN page (8- and 16-bit integers are stored as INT32). */
export function valueBytes(element: VectorElement): number {
  return element === 'DOUBLE' ? 8 : element === 'FLOAT16' ? 2 : 4
}

function leafIndexOf(root: SchemaTree, leafPath: SchemaTree[]): number {
  const target = leafPath.at(-1)
  let index = 0
  const walk = (node: SchemaTree): boolean => {
    if (!node.children.length) {
      if (node === target) return true
      index++
      return false
    }
    return node.children.some(walk)
  }
  if (!root.children.some(walk)) throw new Error('leaf not in schema')
  return index
}

function describeType(node: SchemaTree): string {
  const el = node.element
  if (node.children.length) {
    const group = el.converted_type ?? el.logical_type?.type ?? 'a group'
    const leaf = listLeaf(node)
    return leaf ? `a ${group} of ${describeType(leaf)}` : group
  }
  const logical = el.logical_type?.type === 'FLOAT16' ? 'FLOAT16' : (el.converted_type ?? el.logical_type?.type)
  return logical ? `${el.type} (${logical})` : String(el.type)
}

/** A LIST of integers wider than a vector's (INT32, INT64): numbers that make a vector once written as FLOAT. */
function isNumberList(top: SchemaTree): boolean {
  const el = listLeaf(top)?.element
  if (!el) return false
  const logical = el.logical_type?.type ?? el.converted_type
  return (el.type === 'INT32' || el.type === 'INT64') && (logical === undefined || logical === 'INTEGER' || /^U?INT_/.test(logical))
}

function isText(top: SchemaTree): boolean {
  const el = top.element
  return !top.children.length && el.type === 'BYTE_ARRAY' && (el.converted_type === 'UTF8' || el.logical_type?.type === 'STRING')
}

const sqlName = (name: string) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? name : `"${name.replaceAll('"', '""')}"`)

export interface InvalidRow {
  row: number
  reason: string
}

export interface ReadVectorsOptions {
  file?: string
  /** Leave null, ragged and non-finite vectors out of the index (they stay in the file). */
  skipInvalid?: boolean
  /** Said after an invalid row's reason when it is an error (default: how the index build skips such rows). */
  invalidHint?: string
  signal?: AbortSignal
  onProgress?: (rowsDone: number, rowsTotal: number) => void
  /** Bytes of the column read at once (readColumnBlocks; tests make it small). */
  blockBytes?: number
  /**
   * The matrix in memory workers can share, where this thread may share it (compute/pool.ts
   * sharedFloats): the build's tune step then hands it to its workers without a copy each.
   */
  shared?: boolean
}

export interface Vectors {
  dim: number
  /** Rows of the file, indexed or not. */
  rows: number
  /** Row index of each stored vector, ascending. */
  rowIds: Uint32Array
  /** rowIds.length × dim, row-major. */
  data: Float32Array
  invalid: InvalidRow[]
}

/** One row group's valid vectors: `data` is rowIds.length × dim. */
export interface VectorBlock {
  rowStart: number
  rowEnd: number
  dim: number
  rowIds: Uint32Array
  data: Float32Array
}

/**
 * Streams the embedding column a block of rows at a time (rowBlocks: a row group, or part of
 * a large one), validated (null, ragged, non-finite vectors fail, or with skipInvalid are
 * reported through `onInvalid` and left out). Memory is one block's vectors, whatever the
 * file's size.
 */
export async function forEachVectorBlock(
  source: AsyncBuffer,
  metadata: FileMetaData,
  column: EmbeddingColumn,
  options: ReadVectorsOptions,
  visit: (block: VectorBlock) => void | Promise<void>,
  onInvalid: (row: InvalidRow) => void = () => {},
): Promise<{ dim: number; valid: number }> {
  const { file, skipInvalid = false, signal, onProgress } = options
  const hint = options.invalidHint ?? 'use --skip-invalid to leave such rows out of the index'
  const rows = Number(metadata.num_rows)
  if (rows === 0) throw new ParquetSeekError('the file has zero rows; nothing to index', { file })
  let dim = column.dim ?? 0
  let valid = 0
  let firstProblem: string | undefined
  let groupStart = 0
  for (const [g, group] of metadata.row_groups.entries()) {
    const wanted = column.kind === 'list' ? { column, dim } : undefined
    const blocks = readColumnBlocks(source, metadata, column.name, column.leafIndex, g, groupStart, {
      file,
      signal,
      blockBytes: options.blockBytes,
      vectors: wanted,
    })
    for await (const { rowStart, rowEnd, values, vectors } of blocks) {
      throwIfAborted(signal)
      if (vectors) {
        // decoded straight from its pages (readListVectors): the valid rows, moved together
        dim ||= vectors.dim
        if (wanted) wanted.dim = dim
        const bad = new Set<number>()
        for (const { at, reason } of vectors.invalid) {
          if (!skipInvalid) throw new ParquetSeekError(`${reason} (${hint})`, { file, column: column.name, row: rowStart + at })
          firstProblem ??= reason
          onInvalid({ row: rowStart + at, reason })
          bad.add(at)
        }
        // (float32: not asked for as stored)
        const data = vectors.data as Float32Array
        const ids: number[] = []
        for (let at = 0; at < rowEnd - rowStart; at++) {
          if (bad.has(at)) continue
          if (at !== ids.length) data.copyWithin(ids.length * dim, at * dim, (at + 1) * dim)
          ids.push(rowStart + at)
        }
        valid += ids.length
        if (ids.length) await visit({ rowStart, rowEnd, dim, rowIds: Uint32Array.from(ids), data: data.subarray(0, ids.length * dim) })
        onProgress?.(rowEnd, rows)
        continue
      }
      for (const v of values) if (dim === 0 && v !== null && v !== undefined) dim = vectorLength(v)
      if (wanted) wanted.dim = dim
      const ids: number[] = []
      const data = new Float32Array(values.length * Math.max(1, dim))
      for (let i = 0; i < values.length; i++) {
        const row = rowStart + i
        const vector = values[i]
        const reason = checkVector(vector, dim, column.kind)
        if (reason) {
          if (!skipInvalid) {
            throw new ParquetSeekError(`${reason} (${hint})`, {
              file,
              column: column.name,
              row,
            })
          }
          firstProblem ??= reason
          onInvalid({ row, reason })
          continue
        }
        copyVector(data, ids.length * dim, vector as ArrayLike<number> | Uint8Array, column.kind)
        ids.push(row)
      }
      valid += ids.length
      if (ids.length) await visit({ rowStart, rowEnd, dim, rowIds: Uint32Array.from(ids), data: data.subarray(0, ids.length * dim) })
      onProgress?.(rowEnd, rows)
    }
    groupStart += Number(group.num_rows)
  }
  if (valid === 0) {
    throw new ParquetSeekError(`no valid vectors among ${rows} rows (first problem: ${firstProblem})`, { file, column: column.name })
  }
  return { dim, valid }
}

/** Reads the whole embedding column into one float32 matrix, a block of rows at a time (rowBlocks). */
export async function readVectors(
  source: AsyncBuffer,
  metadata: FileMetaData,
  column: EmbeddingColumn,
  options: ReadVectorsOptions = {},
): Promise<Vectors> {
  const rows = Number(metadata.num_rows)
  let data: Float32Array = new Float32Array(0)
  const rowIds = new Uint32Array(rows)
  const invalid: InvalidRow[] = []
  let stored = 0
  const { dim } = await forEachVectorBlock(
    source,
    metadata,
    column,
    options,
    (block) => {
      if (data.length === 0) data = allocate(rows, block.dim, options.shared, options.file, column.name)
      data.set(block.data, stored * block.dim)
      rowIds.set(block.rowIds, stored)
      stored += block.rowIds.length
    },
    (bad) => invalid.push(bad),
  )
  return { dim, rows, rowIds: rowIds.slice(0, stored), data: data.subarray(0, stored * dim), invalid }
}

/** Bytes of a column (as stored, uncompressed) decoded at once: a larger row group is read in blocks of rows. */
export const ROW_BLOCK_BYTES = 16 << 20

/**
 * Row ranges [start, end) (of the file) covering row group `g` (its first row `groupStart`), each
 * about `blockBytes` of leaf column `leaf` as stored: decoded, a range takes many times its bytes
 * (pyarrow writes row groups of a million rows: 200,000 × 384 floats in one group peaked at 3 GiB).
 */
export function blockRanges(
  metadata: FileMetaData,
  leaf: number,
  g: number,
  groupStart: number,
  blockBytes: number,
): Array<[number, number]> {
  const group = metadata.row_groups[g]
  const rows = Number(group?.num_rows ?? 0)
  const stored = Number(group?.columns[leaf]?.meta_data?.total_uncompressed_size ?? 0)
  return rowRanges(metadata, g, groupStart, Math.max(1024, Math.floor((blockBytes * rows) / Math.max(1, stored))))
}

/** Row ranges of row group `g` (its first row `groupStart`), `per` rows each (the last, the rest). */
function rowRanges(metadata: FileMetaData, g: number, groupStart: number, per: number): Array<[number, number]> {
  const rows = Number(metadata.row_groups[g]?.num_rows ?? 0)
  const out: Array<[number, number]> = []
  for (let a = 0; a < rows; a += per) out.push([groupStart + a, groupStart + Math.min(rows, a + per)])
  return out.length ? out : [[groupStart, groupStart]]
}

/**
 * The first page start at or after group row `row` (`starts`: the group rows pages begin at,
 * ascending), or the group's end `rows`: where a block may end without cutting a page, which
 * each block holding part of it would decode whole (DuckDB writes a row group's column as one page).
 */
function pageEnd(starts: number[], row: number, rows: number): number {
  for (const s of starts) if (s >= row) return Math.min(s, rows)
  return rows
}

/** `ranges` of a group moved to end where pages begin (pageEnd), those left empty dropped. */
function alignToPages(ranges: Array<[number, number]>, starts: number[], groupStart: number, rows: number): Array<[number, number]> {
  const out: Array<[number, number]> = []
  let a = groupStart
  for (const [, b] of ranges) {
    const end = groupStart + pageEnd(starts, b - groupStart, rows)
    if (end > a) out.push([a, end])
    a = Math.max(a, end)
  }
  return out.length ? out : [[groupStart, groupStart + rows]]
}

/**
 * The row ranges (blockRanges) to read row group `g` by, from a source whose chunks can be read a
 * block at a time: where there are several and the chunk has no offset index, its pages are walked
 * first (walkChunkOnce), so a block reads its own pages rather than the chunk up to its end, and
 * blocks end where pages begin — from a local source only (over HTTP the walk would download the
 * chunk: there the group is one block; readColumnBlocks streams it instead).
 */
export async function rowBlocks(
  source: AsyncBuffer,
  metadata: FileMetaData,
  leaf: number,
  g: number,
  groupStart: number,
  file?: string,
  signal?: AbortSignal,
  blockBytes = ROW_BLOCK_BYTES,
): Promise<Array<[number, number]>> {
  const rows = Number(metadata.row_groups[g]?.num_rows ?? 0)
  const ranges = blockRanges(metadata, leaf, g, groupStart, blockBytes)
  if (ranges.length === 1) return ranges
  const path = metadata.row_groups[g]?.columns[leaf]?.meta_data?.path_in_schema.join('.') ?? ''
  // blocks ending where the known pages begin (or, without known pages, `otherwise`)
  const aligned = (otherwise: Array<[number, number]>) => {
    const pages = pageTableOptions(metadata).pageLocationsByGroup?.[g]?.[path]
    return pages
      ? alignToPages(
          ranges,
          pages.map((p) => Number(p.first_row_index)),
          groupStart,
          rows,
        )
      : otherwise
  }
  if (!unindexed(metadata, g, leaf)) return aligned(ranges)
  if (!(source as { local?: boolean }).local) return [[groupStart, groupStart + rows]]
  await walkChunkOnce(source, metadata, g, leaf, file, signal)
  // (a chunk without metadata is not walked: the group at once)
  return aligned([[groupStart, groupStart + rows]])
}

/**
 * Whether row group `g`'s chunk `leaf` has neither an offset index nor known pages
 * (pageTableOptions): reading part of it reads it whole, up to that part.
 */
export function unindexed(metadata: FileMetaData, g: number, leaf: number): boolean {
  const chunk = metadata.row_groups[g]?.columns[leaf]
  const path = chunk?.meta_data?.path_in_schema.join('.') ?? ''
  return chunk?.offset_index_offset === undefined && !pageTableOptions(metadata).pageLocationsByGroup?.[g]?.[path]
}

/** A block of rows [rowStart, rowEnd) of one column, decoded (readColumnBlocks). */
export interface ColumnBlock {
  rowStart: number
  rowEnd: number
  /** Empty where `skipped`, or where `vectors`. */
  values: unknown[]
  /**
   * The rows as vectors (ColumnBlockOptions.vectors): a matrix (float32, or float64 for a DOUBLE
   * column read `asStored`), and the rows that are no vector with their values and reasons.
   */
  vectors?: VectorMatrix<Float32Array | Float64Array>
  /** Not wanted (ColumnBlockOptions.wanted): not decoded. */
  skipped?: boolean
}

export interface ColumnBlockOptions {
  file?: string
  signal?: AbortSignal
  /** Bytes of the column, as stored, read a block at a time (ROW_BLOCK_BYTES; tests make it small). */
  blockBytes?: number
  /**
   * Instead: these ranges of the group's rows, in order, covering it (to read several columns in
   * the same blocks), whatever their bytes and pages.
   */
  ranges?: Array<[number, number]>
  /** Values as stored (readColumnRange). */
  rawBytes?: boolean
  /** Whether rows [rowStart, rowEnd) are needed: a block that is not is not decoded (nor read, where it can be left). */
  wanted?: (rowStart: number, rowEnd: number) => boolean
  /**
   * The column is this `list` embedding, its vectors `dim` long (0: not known yet; read again for
   * each block, as the caller learns it): a block comes as `vectors` (readListVectors: a matrix,
   * rows that are no vector of that length listed), one it cannot read as `values` (hyparquet).
   */
  vectors?: { column: EmbeddingColumn; dim: number; asStored?: boolean }
}

/**
 * Column `name`'s values in row group `g` (its first row `groupStart`), a block of rows at a time,
 * in order (rowBlocks; `leaf` is the column's leaf, by which blocks are sized). A large chunk with
 * no offset index from a remote source is downloaded once, front to back, as its blocks are read
 * (ChunkStream): neither held nor decoded whole, nor fetched twice. Blocks end where pages begin,
 * where the pages are known, so no page is decoded twice.
 */
export async function* readColumnBlocks(
  source: AsyncBuffer,
  metadata: FileMetaData,
  name: string,
  leaf: number,
  g: number,
  groupStart: number,
  o: ColumnBlockOptions = {},
): AsyncGenerator<ColumnBlock> {
  const { file, signal, blockBytes = ROW_BLOCK_BYTES, rawBytes = false } = o
  const rows = Number(metadata.row_groups[g]?.num_rows ?? 0)
  const ranges = o.ranges ?? blockRanges(metadata, leaf, g, groupStart, blockBytes)
  const m = metadata.row_groups[g]?.columns[leaf]?.meta_data
  const path = m?.path_in_schema.join('.') ?? ''
  // rows [a, b) through `from`, the chunk's pages located by `table`
  const decode = async (from: AsyncBuffer, a: number, b: number, table: PageTable | undefined): Promise<ColumnBlock> => {
    const v = o.vectors
    const matrix =
      v && (await readListVectors(from, metadata, v.column, g, groupStart, a, b, v.dim, table?.[g]?.[path], file, !!v.asStored))
    if (matrix) return { rowStart: a, rowEnd: b, values: [], vectors: matrix }
    return {
      rowStart: a,
      rowEnd: b,
      values: await readRows(from, metadata, name, a, b, { file, signal, rawBytes, pageLocationsByGroup: table }),
    }
  }
  const oneLeaf = metadata.row_groups[g]?.columns.filter((c) => c.meta_data?.path_in_schema[0] === name).length === 1
  if (ranges.length > 1 && m && oneLeaf && !(source as { local?: boolean }).local && unindexed(metadata, g, leaf)) {
    const info = chunkInfo(metadata, m, file)
    const stream = new ChunkStream(source, info.sourceOffset, Number(m.total_compressed_size), info, blockBytes, signal)
    let a = groupStart
    for (const [, want] of ranges) {
      if (want <= a) continue
      await stream.reach(want - groupStart)
      // (ranges asked for are kept; others end where a page begins)
      const b = o.ranges ? want : groupStart + pageEnd(stream.starts, want - groupStart, rows)
      const pageLocationsByGroup = metadata.row_groups.map((_, i) => (i === g ? { [path]: stream.pages } : {}))
      if (o.wanted && !o.wanted(a, b)) yield { rowStart: a, rowEnd: b, values: [], skipped: true }
      else yield await decode(stream.view, a, b, pageLocationsByGroup)
      stream.release(b - groupStart)
      a = b
    }
    // its pages are known now: a later read of the group (a sidecar's candidates) fetches only its own
    if (stream.ended) rememberPages(metadata, g, path, { pages: stream.pages, spans: stream.spans })
    return
  }
  // (ranges asked for are read as asked: readColumnRange walks a local chunk's pages for them)
  const blocks = o.ranges ?? (await rowBlocks(source, metadata, leaf, g, groupStart, file, signal, blockBytes))
  for (const [a, b] of blocks) {
    if (o.wanted && !o.wanted(a, b)) yield { rowStart: a, rowEnd: b, values: [], skipped: true }
    else {
      await walkForRows(source, metadata, a, b, [name], file, signal)
      yield await decode(source, a, b, pageTableOptions(metadata).pageLocationsByGroup)
    }
  }
}

/**
 * One column's decoded values for rows [rowStart, rowEnd) — lists arrive as arrays per row. From a
 * local source, part of a large chunk without an offset index is read by its pages (walkForRows).
 */
export async function readColumnRange(
  source: AsyncBuffer,
  metadata: FileMetaData,
  name: string,
  rowStart: number,
  rowEnd: number,
  file?: string,
  signal?: AbortSignal,
  /**
   * Values as stored, for re-encoding them exactly: byte arrays as bytes (never decoded as text),
   * dates and times as their integers (a Date holds no microseconds).
   */
  rawBytes = false,
): Promise<unknown[]> {
  await walkForRows(source, metadata, rowStart, rowEnd, [name], file, signal)
  return readRows(source, metadata, name, rowStart, rowEnd, { file, signal, rawBytes, ...pageTableOptions(metadata) })
}

/**
 * Column `name`'s value at `row` (`leaf`: its leaf, by which blocks are sized). Over HTTP, from a
 * chunk with neither an offset index nor known pages, the chunk is streamed from its start to the
 * row's block (readColumnBlocks), the blocks before it not decoded: hyparquet would read and
 * decode the chunk whole (row 5 of a 294 MiB pyarrow chunk: 3 GiB). Otherwise readColumnRange.
 */
export async function readRow(
  source: AsyncBuffer,
  metadata: FileMetaData,
  name: string,
  leaf: number,
  row: number,
  o: Pick<ColumnBlockOptions, 'file' | 'signal' | 'blockBytes'> & {
    /** The column is this embedding: a `list` one is read as vectors are (readListVectors). */
    vectors?: EmbeddingColumn
  } = {},
): Promise<unknown> {
  const { file, signal, blockBytes } = o
  const column = o.vectors?.kind === 'list' ? o.vectors : undefined
  let groupStart = 0
  for (const [g, group] of metadata.row_groups.entries()) {
    const groupEnd = groupStart + Number(group.num_rows)
    if (row < groupEnd && !(source as { local?: boolean }).local && unindexed(metadata, g, leaf)) {
      const wanted = (a: number, b: number) => a <= row && row < b
      const vectors = column && { column, dim: 0 }
      for await (const block of readColumnBlocks(source, metadata, name, leaf, g, groupStart, {
        file,
        signal,
        blockBytes,
        wanted,
        vectors,
      }))
        if (!block.skipped)
          return block.vectors ? vectorsAt(block.vectors, block.rowStart)(row) : (block.values[row - block.rowStart] ?? null)
    }
    if (row < groupEnd) {
      if (column) return (await readVectorRange(source, metadata, column, g, groupStart, row, row + 1, 0, file, signal))(row)
      break
    }
    groupStart = groupEnd
  }
  const [value] = await readColumnRange(source, metadata, name, row, row + 1, file, signal)
  return value
}

/** Row `row`'s vector in a block of `matrix` beginning at `rowStart`: a view of its row, or the value of a row that is no vector. */
export function vectorsAt(
  matrix: VectorMatrix<Float32Array | Float64Array>,
  rowStart: number,
): (row: number) => ArrayLike<number | null> | null {
  const { dim, data } = matrix
  const invalid = new Map(matrix.invalid.map((x) => [x.at, x.value]))
  return (row) => {
    const at = row - rowStart
    const value = invalid.get(at)
    return value !== undefined ? value : data.subarray(at * dim, (at + 1) * dim)
  }
}

/**
 * Rows [rowStart, rowEnd) of row group `g` (its first row `groupStart`) of an embedding column, to
 * pick some of them out (a search's candidates): `vectorAt(row)` is the row's stored vector, null
 * or undefined where it has none. Read straight into one matrix (readListVectors; a row that is
 * no vector of `dim` numbers, 0: the first row's, given as its value), else as readColumnRange reads them.
 */
export async function readVectorRange(
  source: AsyncBuffer,
  metadata: FileMetaData,
  column: EmbeddingColumn,
  g: number,
  groupStart: number,
  rowStart: number,
  rowEnd: number,
  dim: number,
  file?: string,
  signal?: AbortSignal,
  /** A DOUBLE column's values as stored (float64), not as searched (float32). */
  asStored = false,
): Promise<(row: number) => ArrayLike<number | null> | Uint8Array | null | undefined> {
  await walkForRows(source, metadata, rowStart, rowEnd, [column.name], file, signal)
  const path = metadata.row_groups[g]?.columns[column.leafIndex]?.meta_data?.path_in_schema.join('.') ?? ''
  const table = pageTableOptions(metadata).pageLocationsByGroup
  const matrix = await readListVectors(source, metadata, column, g, groupStart, rowStart, rowEnd, dim, table?.[g]?.[path], file, asStored)
  if (matrix) return vectorsAt(matrix, rowStart)
  const values = await readRows(source, metadata, column.name, rowStart, rowEnd, {
    file,
    signal,
    rawBytes: false,
    pageLocationsByGroup: table,
  })
  return (row) => values[row - rowStart] as ArrayLike<number | null> | Uint8Array | null | undefined
}

/** readColumnRange, through the page locations given (of chunks with no offset index). */
async function readRows(
  source: AsyncBuffer,
  metadata: FileMetaData,
  name: string,
  rowStart: number,
  rowEnd: number,
  o: { file?: string; signal?: AbortSignal; rawBytes: boolean; pageLocationsByGroup?: PageTable },
): Promise<unknown[]> {
  const { file, signal, rawBytes, pageLocationsByGroup } = o
  // (hyparquet reads without a signal: each read carries this one, so a stalled host is left at once)
  source = withSignal(source, signal)
  let out: unknown[] = []
  throwIfAborted(signal)
  const read = async () => {
    // a column with repeated levels (a list, a map) with its rows as Dremel's (readListRows)
    const lists = await listRows(source, metadata, name, rowStart, rowEnd, { file, pageLocationsByGroup, rawBytes })
    if (lists) {
      out = lists
      return
    }
    await parquetRead({
      file: guardPages(source, metadata, file),
      metadata,
      columns: [name],
      rowStart,
      rowEnd,
      compressors: codecs,
      useOffsetIndex: true,
      // (hyparquet reads through it, though its types do not name it)
      ...(pageLocationsByGroup ? { pageLocationsByGroup } : {}),
      ...(rawBytes ? { utf8: false, parsers: STORED } : {}),
      onComplete: (rows: unknown[][]) => {
        // hyparquet gives a null list as undefined; the writer's level encoder needs null
        out = rows.map((r) => r[0] ?? null)
      },
    })
  }
  await decoding(`reading rows ${rowStart}…${rowEnd - 1}`, { file, column: name, row: rowStart }, read)
  if (out.length !== rowEnd - rowStart) {
    throw new ParquetSeekError(`decoded ${out.length} rows where the row group has ${rowEnd - rowStart}`, {
      file,
      column: name,
      row: rowStart,
    })
  }
  // (re-encoding a DECIMAL, the writer rounds value × 10^scale back to the integer it stores)
  const scale = rawBytes ? undefined : decimalScales(metadata).get(name)
  return scale === undefined ? out : out.map((v) => exactDecimal(v, scale))
}

/**
 * Rows [rowStart, rowEnd) of column `name` by readListRows, each row group's part in turn;
 * undefined where it has no repeated level (isRepeatedColumn), and hyparquet reads it.
 */
async function listRows(
  source: AsyncBuffer,
  metadata: FileMetaData,
  name: string,
  rowStart: number,
  rowEnd: number,
  o: { file?: string; rawBytes: boolean; pageLocationsByGroup?: PageTable },
): Promise<unknown[] | undefined> {
  if (!isRepeatedColumn(metadata, name)) return undefined
  const out: unknown[] = []
  const guarded = guardPages(source, metadata, o.file)
  for (const { g, groupStart, start, end } of groupParts(metadata, rowStart, rowEnd)) {
    const rows = await readListRows(guarded, metadata, name, g, groupStart, start, end, o.pageLocationsByGroup?.[g], {
      file: o.file,
      ...(o.rawBytes ? { utf8: false, parsers: STORED } : {}),
    })
    if (!rows) return undefined
    for (const r of rows) out.push(r)
  }
  return out
}

/** The parts of rows [rowStart, rowEnd) in each row group they cross: rows [start, end) of group `g`, which begins at `groupStart`. */
export function groupParts(
  metadata: FileMetaData,
  rowStart: number,
  rowEnd: number,
): Array<{ g: number; groupStart: number; start: number; end: number }> {
  const parts = []
  let groupStart = 0
  for (const [g, group] of metadata.row_groups.entries()) {
    const groupEnd = groupStart + Number(group.num_rows)
    const start = Math.max(rowStart, groupStart)
    const end = Math.min(rowEnd, groupEnd)
    if (start < end) parts.push({ g, groupStart, start, end })
    groupStart = groupEnd
  }
  return parts
}

/** hyparquet's parsers that keep values as stored (readColumnRange's rawBytes). */
const STORED = {
  stringFromBytes: (bytes: Uint8Array) => bytes,
  jsonFromBytes: (bytes: Uint8Array) => bytes,
  dateFromDays: (days: number) => days,
  timestampFromMilliseconds: (v: bigint) => v,
  timestampFromMicroseconds: (v: bigint) => v,
  timestampFromNanoseconds: (v: bigint) => v,
} as unknown as Partial<ParquetParsers>

/** Values in a stored vector (a list, or FIXED_LEN_BYTE_ARRAY bytes of float32). */
export function vectorLength(vector: unknown): number {
  if (vector instanceof Uint8Array) return vector.length / 4
  return (vector as ArrayLike<number>).length
}

/**
 * Why a stored vector cannot be used (null, ragged, not finite, too long for finite float32
 * distances), or undefined when it can.
 */
export function checkVector(vector: unknown, dim: number, kind: EmbeddingColumn['kind']): string | undefined {
  if (vector === null || vector === undefined) return 'vector is null'
  const n = vectorLength(vector)
  if (n === 0) return 'vector is empty'
  if (n !== dim) return `vector has ${n} values, expected ${dim}`
  if (kind === 'flba') {
    const bytes = vector as Uint8Array
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    let squaredLength = 0
    for (let j = 0; j < n; j++) {
      const v = view.getFloat32(j * 4, true)
      if (!Number.isFinite(v)) return `value ${j} is not finite`
      squaredLength += v * v
    }
    return overlong(squaredLength)
  }
  const list = vector as ArrayLike<number | null>
  let squaredLength = 0
  for (let j = 0; j < n; j++) {
    const v = list[j]
    if (v === null || v === undefined) return `value ${j} is null`
    if (!Number.isFinite(v) || Math.abs(v) > 3.4028234663852886e38) return `value ${j} is ${v}, not a finite float32`
    squaredLength += v * v
  }
  return overlong(squaredLength)
}

function allocate(rows: number, dim: number, shared: boolean | undefined, file: string | undefined, column: string): Float32Array {
  try {
    return shared ? sharedFloats(rows * dim) : new Float32Array(rows * dim)
  } catch {
    throw new ParquetSeekError(`${rows} × ${dim} float32 vectors do not fit in memory`, { file, column })
  }
}

/** One decoded vector (a list's numbers, or an FLBA's little-endian float32 bytes) into `out` at `at`. */
export function copyVector(out: Float32Array, at: number, vector: ArrayLike<number> | Uint8Array, kind: EmbeddingColumn['kind']) {
  if (kind === 'flba') {
    const bytes = vector as Uint8Array
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    for (let j = 0; j < bytes.length / 4; j++) out[at + j] = view.getFloat32(j * 4, true)
  } else {
    out.set(vector as ArrayLike<number>, at)
  }
}
