import type { AsyncBuffer, FileMetaData, SchemaTree } from 'hyparquet'
import { parquetSchema } from 'hyparquet'
import { ParquetSeekError, throwIfAborted } from '../errors.js'
import type { EmbeddingColumn } from './embedding.js'
import { readColumnBlocks, vectorElement } from './embedding.js'
import { canRepage } from './repage.js'

/**
 * The column a file with clustered rows gains: each row's position in the input file, so the
 * input's order is one `ORDER BY parquetseek_row` away. An input that has it already (a file
 * clustered before) keeps its own, moved with the rows: it still names the original order.
 */
export const ROW_COLUMN = 'parquetseek_row'

/** The input's rows in another order, a window of output rows at a time (writeIndexed's `order`). */
export interface PermutedRows {
  /**
   * Leaf column c's values for output rows [start, end): output row i is input row order[i].
   * Asked in increasing output rows, within one output row group: the window holding them is
   * decoded once, from every column, and forgotten when a later one is asked for.
   */
  values(c: number, start: number, end: number): Promise<unknown[]>
  /**
   * Whether hyparquet gave rows of the embedding column (writeIndexed then checks its count of
   * values); not a list's, assembled as Dremel defines rows (readListVectors, readListRows), which
   * read a DuckDB NULL FLOAT[n] as one row.
   */
  hyparquetRows: boolean
}

/** Why this file's rows cannot be written in another order, or undefined when they can. */
export function permuteProblem(metadata: FileMetaData, column: EmbeddingColumn): string | undefined {
  for (const [c, tree] of leafTrees(metadata).entries()) {
    if (c === column.leafIndex || canRepage(tree)) continue
    const path = tree
      .slice(1)
      .map((n) => n.element.name)
      .join('.')
    const leaf = tree.at(-1)?.element
    const type = leaf?.logical_type?.type ?? leaf?.converted_type ?? leaf?.type ?? 'a group'
    if (tree.length === 4 && leaf && vectorElement(leaf))
      return `column ${path} is a list of ${vectorElement(leaf)}, another vector column: rows are clustered with one only (the others would be held as arrays of numbers, many times their size); index without clustering, or without that column`
    return `column ${path} (${tree.length > 2 ? 'nested' : type}) cannot be re-encoded bit for bit, so rows cannot be clustered; only the embedding column and flat number, boolean, string, date and time columns, DECIMALs of up to 15 digits, lists of such values and structs of them can be moved`
  }
  return undefined
}

/** Every leaf column's path from the root, in the order of a row group's chunks. */
export function leafTrees(metadata: FileMetaData): SchemaTree[][] {
  const out: SchemaTree[][] = []
  const walk = (path: SchemaTree[]) => {
    const node = path.at(-1)
    if (!node) return
    if (!node.children.length) out.push(path)
    for (const child of node.children) walk([...path, child])
  }
  walk([parquetSchema(metadata)])
  return out
}

/**
 * Serves the input's rows in `order`, a window of output rows at a time: each window is one pass
 * over every column, front to back a block of rows at a time, keeping only the window's rows —
 * flat columns as values (byte arrays kept as bytes), the embedding column as one matrix of its
 * own element type (float32 values stay float32, doubles double, fixed-length bytes bytes), so
 * every value is written back bit for bit. A window is as many whole output row groups as fit
 * `windowBytes` of decoded values (at least one): a file whose rows fit is read once, a larger one
 * in as many passes as it takes, never holding more than a window. Callers check permuteProblem first.
 */
export async function permuteRows(
  source: AsyncBuffer,
  metadata: FileMetaData,
  column: EmbeddingColumn,
  order: Uint32Array,
  o: {
    file?: string
    signal?: AbortSignal
    /** The embedding column already decoded: float32, row-major, every row (a FLOAT list column). */
    vectors?: Float32Array
    /** Decoded values held at once (default: every row's). */
    windowBytes?: number
    /** Columns decoded, of all the windows' (each window decodes every column). */
    onProgress?: (columnsDone: number, columnsTotal: number) => void
  } = {},
): Promise<PermutedRows> {
  const { file, signal, onProgress } = o
  const rows = Number(metadata.num_rows)
  if (order.length !== rows) throw new Error(`an order of ${order.length} rows for a file of ${rows}`)
  const problem = permuteProblem(metadata, column)
  if (problem) throw new ParquetSeekError(problem, { file })
  const leaves = leafTrees(metadata)
  const windows = outputWindows(metadata, column, !!o.vectors, o.windowBytes ?? Number.POSITIVE_INFINITY)
  // each input row's output position
  const position = new Uint32Array(rows)
  for (const [i, row] of order.entries()) position[row] = i
  const vectorsOf = o.vectors && rowsOf(o.vectors, rows)
  let loaded: { start: number; end: number; columns: Array<(i: number) => unknown> } | undefined
  let done = 0
  const load = async (w: number) => {
    const [start, end] = windows[w] as [number, number]
    loaded = undefined // (the window before is let go first)
    const slot = (row: number) => {
      const p = position[row] as number
      return p >= start && p < end ? p - start : -1
    }
    const columns: Array<(i: number) => unknown> = []
    /** Each top-level column's values in the window, read once (a struct's fields share them). */
    const read = new Map<string, unknown[]>()
    for (const [c, tree] of leaves.entries()) {
      throwIfAborted(signal)
      if (c === column.leafIndex) {
        // (the build's vectors: every row a full vector)
        columns.push(
          vectorsOf
            ? (i) => vectorsOf(order[start + i] as number)
            : await vectorWindow(source, metadata, column, end - start, slot, file, signal),
        )
      } else {
        const name = tree[1]?.element.name as string
        const values = read.get(name) ?? (await columnWindow(source, metadata, name, c, end - start, slot, file, signal))
        read.set(name, values)
        columns.push((i) => values[i])
      }
      onProgress?.(++done, windows.length * leaves.length)
    }
    loaded = { start, end, columns }
  }
  onProgress?.(0, windows.length * leaves.length)
  let next = 0
  return {
    hyparquetRows: o.vectors ? true : column.kind !== 'list',
    async values(c, start, end) {
      while (!loaded || end > loaded.end) {
        if (next >= windows.length) throw new Error(`output rows ${start}…${end} asked for after the last window`)
        await load(next++)
      }
      const window = loaded
      if (start < window.start) throw new Error(`output rows ${start}…${end} asked for after their window`)
      const get = window.columns[c]
      if (!get) throw new Error(`no leaf column ${c}`)
      return Array.from({ length: end - start }, (_, i) => get(start - window.start + i))
    },
  }
}

/**
 * Output rows in windows of whole row groups (the output's are the input's sizes), each as many
 * as fit `windowBytes` of decoded values at least one: the embedding column as its stored size
 * (a typed matrix; nothing when the build's vectors are given), other columns twice theirs (JS values).
 */
function outputWindows(
  metadata: FileMetaData,
  column: EmbeddingColumn,
  vectorsGiven: boolean,
  windowBytes: number,
): Array<[number, number]> {
  const windows: Array<[number, number]> = []
  let start = 0
  let at = 0
  let bytes = 0
  for (const group of metadata.row_groups) {
    const groupRows = Number(group.num_rows)
    let groupBytes = 0
    for (const [c, chunk] of group.columns.entries()) {
      const size = Number(chunk.meta_data?.total_uncompressed_size ?? 0)
      groupBytes += c === column.leafIndex ? (vectorsGiven ? 0 : size) : 2 * size
    }
    if (at > start && bytes + groupBytes > windowBytes) {
      windows.push([start, at])
      start = at
      bytes = 0
    }
    at += groupRows
    bytes += groupBytes
  }
  if (at > start || !windows.length) windows.push([start, at])
  return windows
}

/** Column `name`'s values (as stored) of the rows `slot` places in a window of `count` rows. */
async function columnWindow(
  source: AsyncBuffer,
  metadata: FileMetaData,
  name: string,
  leaf: number,
  count: number,
  slot: (row: number) => number,
  file?: string,
  signal?: AbortSignal,
): Promise<unknown[]> {
  const values: unknown[] = new Array(count)
  let groupStart = 0
  for (const [g, group] of metadata.row_groups.entries()) {
    for await (const block of readColumnBlocks(source, metadata, name, leaf, g, groupStart, { file, signal, rawBytes: true })) {
      throwIfAborted(signal)
      for (const [i, v] of block.values.entries()) {
        const s = slot(block.rowStart + i)
        if (s >= 0) values[s] = v
      }
    }
    groupStart += Number(group.num_rows)
  }
  return values
}

/** Row i of a row-major matrix of `rows` rows, as a view. */
function rowsOf(matrix: Float32Array, rows: number): (row: number) => Float32Array {
  const width = matrix.length / rows
  if (!Number.isInteger(width)) throw new Error(`${matrix.length} values are not ${rows} rows`)
  return (row) => matrix.subarray(row * width, (row + 1) * width)
}

/**
 * The embedding column's rows that `slot` places in a window of `count` rows, held as one typed
 * matrix (rows of another length, and nulls, aside), read a block of rows at a time: a list
 * column's rows as readListVectors assembles them, its values as stored (DOUBLE as float64); what
 * it cannot read as readListRows gives it, and FIXED_LEN_BYTE_ARRAY as hyparquet gives it.
 */
async function vectorWindow(
  source: AsyncBuffer,
  metadata: FileMetaData,
  column: EmbeddingColumn,
  count: number,
  slot: (row: number) => number,
  file?: string,
  signal?: AbortSignal,
): Promise<(i: number) => unknown> {
  // half floats and small integers are exact in float32, and written back as they were
  const Typed = column.kind === 'flba' ? Uint8Array : column.element === 'DOUBLE' ? Float64Array : Float32Array
  let matrix: Uint8Array | Float32Array | Float64Array | undefined
  let width = 0
  const irregular = new Map<number, unknown>()
  // (the length asked of each block: the first row's, once known)
  const vectors = column.kind === 'list' ? { column, dim: 0, asStored: true } : undefined
  /** The matrix, made when the vectors' length is first known. */
  const holdRows = (length: number) => {
    width = length
    matrix = new Typed(count * width)
    if (vectors) vectors.dim = width
  }
  let groupStart = 0
  for (const [g, group] of metadata.row_groups.entries()) {
    throwIfAborted(signal)
    for await (const block of readColumnBlocks(source, metadata, column.name, column.leafIndex, g, groupStart, { file, signal, vectors })) {
      if (block.vectors) {
        const { dim, data, invalid } = block.vectors
        if (!matrix && dim) holdRows(dim)
        if (matrix)
          for (let i = 0; i < block.rowEnd - block.rowStart; i++) {
            const s = slot(block.rowStart + i)
            if (s >= 0) matrix.set(data.subarray(i * width, (i + 1) * width), s * width)
          }
        for (const { at, value } of invalid) {
          const s = slot(block.rowStart + at)
          if (s >= 0) irregular.set(s, value)
        }
        continue
      }
      for (const [i, v] of block.values.entries()) {
        const s = slot(block.rowStart + i)
        if (s < 0) continue
        const length = v === null || v === undefined ? -1 : (v as ArrayLike<unknown>).length
        if (!matrix && length >= 0) holdRows(length)
        if (!matrix || length !== width || (column.kind === 'list' && !allNumbers(v as unknown[]))) {
          irregular.set(s, v ?? null)
          continue
        }
        matrix.set(v as ArrayLike<number>, s * width)
      }
    }
    groupStart += Number(group.num_rows)
  }
  return (i) => {
    if (irregular.has(i)) return irregular.get(i)
    const m = matrix as Uint8Array | Float32Array | Float64Array
    const slice = m.subarray(i * width, (i + 1) * width)
    // a view, not a copy: the writer reads it once (an Array per row was 6 s of a 1 M-row build)
    return column.kind === 'flba' ? slice.slice() : slice
  }
}

function allNumbers(v: unknown[]): boolean {
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'number') return false
  return true
}
