import type { Kernels } from '../compute/backend.js'
import { ParquetSeekError } from '../errors.js'
import { PASSAGE_ROW } from '../index/keys.js'
import type { Metric } from '../index/model.js'
import { type Expr, type FilterResult, filterRows } from '../query/filter.js'
import { partitionPoint } from '../sorted.js'
import { type ParquetTarget, readRowSpan, readRows } from './columns.js'
import { flatSearch } from './flat.js'

/**
 * One file among many whose rows are numbered one after another (a sidecar's sources, a
 * manifest's shards; a file alone, at 0): its rows are rowBase … rowBase + rows − 1 of the whole.
 */
export interface RowRange extends ParquetTarget {
  rowBase: number
  rows: number
}

/** A part of the whole with its embedding column. */
export interface RowPart extends RowRange {
  column: { name: string }
}

/**
 * Whether `distinct` on `column`, over many files, keeps each file's values apart: a passage's
 * text (PASSAGE_ROW) numbers its own file's input rows, so text 3 of one file is not text 3 of
 * another; any other column's value is one value wherever it is.
 */
export function distinctPerFile(column: string): boolean {
  return column === PASSAGE_ROW
}

/**
 * The model every file's vectors came from (footer key parquetseek.model), for a text query:
 * undefined when none names one. Files naming different ones are an error saying which: a query
 * embedded by one model means nothing among another's vectors (a manifest's text query used to
 * take its first shard's). `file`: the sidecar or manifest, for the message.
 */
export function oneModel(files: Array<{ name: string; model: string | undefined }>, file: string): string | undefined {
  const models = [...new Set(files.map((f) => f.model))]
  if (models.length <= 1) return models[0]
  const named = models.map((m) => {
    const holding = files.filter((f) => f.model === m).map((f) => f.name)
    return `${m ?? 'no model'} (${holding.slice(0, 2).join(', ')}${holding.length > 2 ? `, ${holding.length - 2} more` : ''})`
  })
  throw new ParquetSeekError(
    `its files name different models, ${named.join('; ')}: a text query needs the one that made every file's vectors`,
    {
      file,
    },
  )
}

/**
 * The model a text query over `index` is embedded with (`name`), or, where its files name
 * different ones, why there is none (`problem`: textModel()'s error, naming them): for a page
 * that shows the text box only when it can embed.
 */
export function textModelOf(index: { textModel(): string | undefined }): { name?: string; problem?: string } {
  try {
    return { name: index.textModel() }
  } catch (e) {
    return { problem: (e as Error).message }
  }
}

/** The part holding row `row` of the whole (rows numbered across the parts), and its row there; undefined past the end. */
export function partAt<T extends { rowBase: number; rows: number }>(
  parts: readonly T[],
  row: number,
): { part: T; index: number; row: number } | undefined {
  // the last part starting at or before the row (parts are in row order; an empty one starts where the next does)
  const index = partitionPoint(0, parts.length, (i) => (parts[i] as T).rowBase > row) - 1
  const part = parts[index]
  return part && row < part.rowBase + part.rows ? { part, index, row: row - part.rowBase } : undefined
}

/**
 * Rows [start, end) of the whole, of `columns`: each file's share read through its own offset
 * indexes, all at once. `opened(part)`: the part ready to read (a sidecar's files are opened when
 * first needed: only those holding the rows are).
 */
export async function readRowSpanAcross<P extends { rowBase: number; rows: number }>(
  parts: readonly P[],
  start: number,
  end: number,
  columns: string[],
  opened: (part: P) => RowPart | Promise<RowPart>,
  o: { signal?: AbortSignal; file?: string } = {},
): Promise<Array<Record<string, unknown>>> {
  const rows = parts.reduce((n, p) => n + p.rows, 0)
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > rows || start > end)
    throw new ParquetSeekError(`rows ${start}…${end} are outside the ${rows} rows of ${parts.length} files`, { file: o.file })
  const reads = parts
    .filter((p) => p.rowBase < end && p.rowBase + p.rows > start)
    .map(async (p) =>
      readRowSpan(await opened(p), Math.max(start, p.rowBase) - p.rowBase, Math.min(end, p.rowBase + p.rows) - p.rowBase, columns, o),
    )
  return (await Promise.all(reads)).flat()
}

/** Values of `columns` for `rows` of the whole (any order): each file's read through its own offset indexes, all at once. */
export async function readRowsAcross(
  parts: readonly RowRange[],
  rows: number[],
  columns: string[],
  o: { connections?: number; signal?: AbortSignal } = {},
): Promise<Map<number, Record<string, unknown>>> {
  const byPart = new Map<RowRange, number[]>()
  for (const row of rows) {
    const at = partAt(parts, row)
    if (!at) continue
    const local = byPart.get(at.part)
    if (local) local.push(at.row)
    else byPart.set(at.part, [at.row])
  }
  const out = new Map<number, Record<string, unknown>>()
  await Promise.all(
    [...byPart].map(async ([part, local]) => {
      for (const [row, values] of await readRows(part, local, columns, o)) out.set(part.rowBase + row, values)
    }),
  )
  return out
}

/**
 * Where to end each block of `count` rows read in file order (`rowOf(at)`: the row at position
 * `at`, ascending) so that blocks cut no row group they need not: a block holds whole row groups
 * up to `max` rows and ends where one does; a group holding more than `max` of the rows is read
 * `max` at a time. (A column without an offset index is decoded from its group's first page
 * whatever rows of the group are read, so a group read in n blocks is decoded n times.)
 */
export function rowGroupBlocks(parts: readonly RowRange[], count: number, rowOf: (at: number) => number, max: number): number[] {
  const starts = parts.flatMap((p) => {
    let row = p.rowBase
    return p.metadata.row_groups.map((g) => {
      const first = row
      row += Number(g.num_rows)
      return first
    })
  })
  /** The first row of the row group holding `row`. */
  const groupStart = (row: number) => starts[partitionPoint(0, starts.length, (g) => (starts[g] as number) > row) - 1] ?? 0
  const ends: number[] = []
  for (let at = 0; at < count; ) {
    let end = Math.min(count, at + max)
    if (end < count) {
      // back to the first position in the group the next row is in, unless the block began in it
      const first = groupStart(rowOf(end))
      const from = partitionPoint(at, end, (p) => rowOf(p) >= first)
      if (from > at) end = from
    }
    ends.push(end)
    at = end
  }
  return ends
}

/**
 * The rows of the whole passing `expr`: each file filtered by its own statistics and columns,
 * placed at its first row; `onProgress(rows, of)` as the files' row groups are done.
 */
export async function filterAcross(
  parts: readonly RowRange[],
  expr: Expr,
  signal?: AbortSignal,
  onProgress?: (rows: number, of: number) => void,
): Promise<FilterResult> {
  const total = parts.reduce((n, p) => n + p.rows, 0)
  const done = new Float64Array(parts.length)
  const each = await Promise.all(
    parts.map((p, i) =>
      filterRows(p.cached, p.metadata, expr, signal, (rows) => {
        done[i] = rows
        onProgress?.(
          done.reduce((a, b) => a + b, 0),
          total,
        )
      }),
    ),
  )
  if (each.length === 1) return each[0] as FilterResult
  const bitmap = new Uint8Array(total)
  for (const [i, r] of each.entries()) {
    const part = parts[i] as RowRange
    bitmap.set(r.bitmap.subarray(0, part.rows), part.rowBase)
  }
  return {
    bitmap,
    passing: each.reduce((n, r) => n + r.passing, 0),
    rowGroupsSkipped: each.reduce((n, r) => n + r.rowGroupsSkipped, 0),
    rowGroupsRead: each.reduce((n, r) => n + r.rowGroupsRead, 0),
  }
}

/**
 * Exact search over every file's vectors (each read once, front to back, one file after
 * another): the k nearest rows of each query, numbered across the files, nearest first (ties:
 * the lower row). What recall is measured against.
 */
export async function searchExactAcross(
  parts: readonly RowPart[],
  queries: Float32Array[],
  o: { k: number; metric: Metric; kernels: Kernels; signal?: AbortSignal },
): Promise<Array<Array<{ row: number; distance: number }>>> {
  const each: Array<Array<Array<{ row: number; distance: number }>>> = []
  for (const p of parts)
    each.push(
      (
        await flatSearch(p.cached, p.metadata, queries, {
          column: p.column.name,
          metric: o.metric,
          k: o.k,
          signal: o.signal,
          kernels: o.kernels,
        })
      ).map((hits) => hits.map((h) => ({ row: p.rowBase + h.row, distance: h.distance }))),
    )
  return queries.map((_, q) =>
    each
      .flatMap((hits) => hits[q] ?? [])
      .sort((a, b) => a.distance - b.distance || a.row - b.row)
      .slice(0, o.k),
  )
}
