import type { AsyncBuffer, FileMetaData, SchemaTree } from 'hyparquet'
import { parquetSchema } from 'hyparquet'
import { ParquetSeekError, throwIfAborted } from '../errors.js'
import type { EmbeddingColumn } from './embedding.js'
import { readColumnBlocks, readColumnRange, vectorElement } from './embedding.js'
import { canRepage } from './repage.js'

/**
 * The column a file with clustered rows gains: each row's position in the input file, so the
 * input's order is one `ORDER BY parquetseek_row` away. An input that has it already (a file
 * clustered before) keeps its own, moved with the rows: it still names the original order.
 */
export const ROW_COLUMN = 'parquetseek_row'

/** The input's rows in another order, column by column (writeIndexed's `order`). */
export interface PermutedRows {
  /** Leaf column c's values for output rows [start, end): output row i is input row order[i]. */
  values(c: number, start: number, end: number): unknown[]
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
 * Decodes every column once and serves it in `order`: flat columns whole (byte arrays kept as
 * bytes), the embedding column into one matrix of its own element type (float32 values stay
 * float32, doubles double, fixed-length bytes bytes), so every value is written back bit for
 * bit. Memory: the decoded file. Callers check permuteProblem first.
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
    onProgress?: (columnsDone: number, columnsTotal: number) => void
  } = {},
): Promise<PermutedRows> {
  const { file, signal, onProgress } = o
  const rows = Number(metadata.num_rows)
  if (order.length !== rows) throw new Error(`an order of ${order.length} rows for a file of ${rows}`)
  const problem = permuteProblem(metadata, column)
  if (problem) throw new ParquetSeekError(problem, { file })
  const columns: Array<(row: number) => unknown> = []
  let hyparquetRows = true
  const leaves = leafTrees(metadata)
  /** Each top-level column's values, read once (a struct's fields share them). */
  const read = new Map<string, unknown[]>()
  onProgress?.(0, leaves.length)
  for (const [c, tree] of leaves.entries()) {
    throwIfAborted(signal)
    if (c === column.leafIndex) {
      // (the build's vectors: every row a full vector, so its count of values is the file's)
      const store = o.vectors
        ? { rowOf: rowsOf(o.vectors, rows), hyparquetRows: true }
        : await vectorStore(source, metadata, column, file, signal)
      columns.push(store.rowOf)
      hyparquetRows = store.hyparquetRows
    } else {
      const name = tree[1]?.element.name as string
      const values = read.get(name) ?? (await readColumnRange(source, metadata, name, 0, rows, file, signal, true))
      read.set(name, values)
      columns.push((row) => values[row])
    }
    onProgress?.(c + 1, leaves.length)
  }
  return {
    hyparquetRows,
    values(c, start, end) {
      const get = columns[c]
      if (!get) throw new Error(`no leaf column ${c}`)
      return Array.from(order.subarray(start, end), (row) => get(row))
    },
  }
}

/** Row i of a row-major matrix of `rows` rows, as a view. */
function rowsOf(matrix: Float32Array, rows: number): (row: number) => Float32Array {
  const width = matrix.length / rows
  if (!Number.isInteger(width)) throw new Error(`${matrix.length} values are not ${rows} rows`)
  return (row) => matrix.subarray(row * width, (row + 1) * width)
}

/**
 * The embedding column held as one typed matrix (rows of another length, and nulls, aside), read a
 * block of rows at a time: a list column's rows as readListVectors assembles them, its values as
 * stored (DOUBLE as float64); what it cannot read as readListRows gives it, and FIXED_LEN_BYTE_ARRAY
 * as hyparquet gives it.
 */
async function vectorStore(
  source: AsyncBuffer,
  metadata: FileMetaData,
  column: EmbeddingColumn,
  file?: string,
  signal?: AbortSignal,
): Promise<{ rowOf: (row: number) => unknown; hyparquetRows: boolean }> {
  const rows = Number(metadata.num_rows)
  // half floats and small integers are exact in float32, and written back as they were
  const Typed = column.kind === 'flba' ? Uint8Array : column.element === 'DOUBLE' ? Float64Array : Float32Array
  let matrix: Uint8Array | Float32Array | Float64Array | undefined
  let width = 0
  const irregular = new Map<number, unknown>()
  let hyparquetRows = false
  // (the length asked of each block: the first row's, once known)
  const vectors = column.kind === 'list' ? { column, dim: 0, asStored: true } : undefined
  /** The matrix, made when the vectors' length is first known. */
  const holdRows = (length: number) => {
    width = length
    matrix = new Typed(rows * width)
    if (vectors) vectors.dim = width
  }
  let groupStart = 0
  for (const [g, group] of metadata.row_groups.entries()) {
    throwIfAborted(signal)
    for await (const block of readColumnBlocks(source, metadata, column.name, column.leafIndex, g, groupStart, { file, signal, vectors })) {
      if (block.vectors) {
        const { dim, data, invalid } = block.vectors
        if (!matrix && dim) holdRows(dim)
        if (matrix) matrix.set(data, block.rowStart * width)
        for (const { at, value } of invalid) irregular.set(block.rowStart + at, value)
        continue
      }
      // (a list's rows come from readListRows, Dremel's as readListVectors' are)
      hyparquetRows ||= column.kind !== 'list'
      for (const [i, v] of block.values.entries()) {
        const row = block.rowStart + i
        const length = v === null || v === undefined ? -1 : (v as ArrayLike<unknown>).length
        if (!matrix && length >= 0) holdRows(length)
        if (!matrix || length !== width || (column.kind === 'list' && !allNumbers(v as unknown[]))) {
          irregular.set(row, v ?? null)
          continue
        }
        matrix.set(v as ArrayLike<number>, row * width)
      }
    }
    groupStart += Number(group.num_rows)
  }
  const rowOf = (row: number) => {
    if (irregular.has(row)) return irregular.get(row)
    const m = matrix as Uint8Array | Float32Array | Float64Array
    const slice = m.subarray(row * width, (row + 1) * width)
    // a view, not a copy: the writer reads it once (an Array per row was 6 s of a 1 M-row build)
    return column.kind === 'flba' ? slice.slice() : slice
  }
  return { rowOf, hyparquetRows }
}

function allNumbers(v: unknown[]): boolean {
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== 'number') return false
  return true
}
