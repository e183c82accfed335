import type { FileMetaData } from 'hyparquet'
import { parquetReadObjects } from 'hyparquet'
import { decoding, ParquetSeekError } from '../errors.js'
import { BatchingSource } from '../io/batching.js'
import type { CachedSource } from '../io/cache.js'
import { codecs } from '../parquet/codecs.js'
import { decimalScales, exactDecimals } from '../parquet/decimal.js'
import {
  copyVector,
  type EmbeddingColumn,
  findEmbeddingColumns,
  groupParts,
  readColumnRange,
  readVectorRange,
  summarizeColumns,
} from '../parquet/embedding.js'
import { guardPages } from '../parquet/guard.js'
import { isRepeatedColumn } from '../parquet/listRows.js'
import { offsetIndex } from '../parquet/listVectors.js'
import { knownPageCount, pageTableOptions, walkForRows } from '../parquet/pageLocations.js'
import { partitionPoint } from '../sorted.js'

/** A Parquet file being read: its cached source and footer. */
export interface ParquetTarget {
  cached: CachedSource
  metadata: FileMetaData
  name: string
}

/**
 * Rows near one another are read as one span, the rows between decoded and dropped: a read
 * decodes the pages holding its rows, so rows sharing pages read apart decode those pages once
 * each. A column whose chunk in a row group has no page locations (no offset index, no page
 * table known) is fetched and decoded whole by any read of it there, so it is read apart from
 * the other columns, in one span over the group's wanted rows. How far a span of the others
 * reaches (`spanRule`): from a local file, while the rows it covers are no more than its wanted rows times a page's
 * rows (about what reading them apart would decode); over HTTP, where the pages between cost
 * bytes, to rows within SPAN_ROWS of the last (a sidecar's result rows read 53 KiB a query so,
 * 76 KiB with spans of pages' rows); and there too where a vector or a list column is read (its
 * rows between are costly to hold). Spans are at most MAX_SPAN_ROWS.
 */
const SPAN_ROWS = 32
const MAX_SPAN_ROWS = 131_072
/** Bytes of an offset index a page (a PageLocation: offset, size, first row): to count its pages from the footer. */
const PAGE_LOCATION_BYTES = 12

/**
 * How far a span of wanted rows may reach in row group `g` (see SPAN_ROWS): its whole, a page's
 * rows a wanted row, a gap, or (`pages`: each chunk's pages' first rows in the group, over HTTP)
 * to a row in the same page as the span's last, in every chunk read.
 */
type SpanRule = { whole: true } | { perRow: number } | { gap: number } | { pages: number[][]; groupStart: number }

/**
 * Over HTTP, where every chunk of `columns` in row group `g` has an offset index or a known
 * page table: their pages' first rows (offset indexes read once per footer, through the cache
 * the read itself then finds them in), so a span joins the rows of one page — each page decoded
 * once, and fetched as one page alone, as the cache keeps it for the next read (spans over
 * neighbouring pages, tried first, fetched pages again that the cache held apart: a sidecar's
 * results read 76 KiB a query instead of 53). Undefined where one has neither, or its offset
 * index cannot be read (the gap rule then).
 */
async function pageStarts(target: ParquetTarget, g: number, columns: string[]): Promise<number[][] | undefined> {
  const { metadata } = target
  const chunks = [...(metadata.row_groups[g]?.columns ?? []).entries()].filter(([, chunk]) =>
    columns.includes(chunk.meta_data?.path_in_schema[0] ?? ''),
  )
  const located = await Promise.all(
    chunks.map(
      ([leaf, chunk]) =>
        pageTableOptions(metadata).pageLocationsByGroup?.[g]?.[chunk.meta_data?.path_in_schema.join('.') ?? ''] ??
        offsetIndex(target.cached, metadata, g, leaf).catch(() => undefined),
    ),
  )
  if (located.some((pages) => !pages?.length)) return undefined
  return located.map((pages) => (pages ?? []).map((p) => Number(p.first_row_index)))
}

/** Whether every chunk of `column` in row group `g` has page locations: an offset index, or a page table known (`knownPageCount`). */
function pagesKnown(metadata: FileMetaData, g: number, column: string): boolean {
  return (metadata.row_groups[g]?.columns ?? [])
    .filter((chunk) => chunk.meta_data?.path_in_schema[0] === column)
    .every((chunk) => chunk.offset_index_length || knownPageCount(metadata, g, chunk.meta_data?.path_in_schema.join('.') ?? ''))
}

function spanRule(metadata: FileMetaData, g: number, columns: string[], local: boolean, costly: boolean): SpanRule {
  if (costly) return { gap: SPAN_ROWS }
  const group = metadata.row_groups[g]
  const rows = Number(group?.num_rows ?? 0)
  // the fewest rows a page of the columns read: the group's rows over the pages its offset index
  // lists (counted from its length in the footer), or the page table's
  let fewest: number | undefined
  for (const chunk of group?.columns ?? []) {
    const path = chunk.meta_data?.path_in_schema ?? []
    if (!columns.includes(path[0] ?? '')) continue
    const length = chunk.offset_index_length
    const pages = length ? Math.round(length / PAGE_LOCATION_BYTES) : knownPageCount(metadata, g, path.join('.'))
    if (pages) fewest = Math.min(fewest ?? rows, rows / pages)
  }
  if (fewest === undefined) return { whole: true }
  return local ? { perRow: Math.max(1, fewest) } : { gap: SPAN_ROWS }
}

/**
 * Values of `columns` for the given rows of one file, read through its offset indexes so only
 * the pages holding those rows are fetched, all requested together (one round trip).
 */
export async function readRows(
  target: ParquetTarget,
  rows: number[],
  columns: string[],
  o: { connections?: number; signal?: AbortSignal } = {},
): Promise<Map<number, Record<string, unknown>>> {
  const values = new Map<number, Record<string, unknown>>()
  if (!rows.length || !columns.length) return values
  checkColumns(target, columns)
  const batching = new BatchingSource(target.cached, undefined, o.connections, o.signal)
  const unique = [...new Set(rows)].sort((a, b) => a - b)
  const costly = columns.some((c) => isRepeatedColumn(target.metadata, c))
  const groupEnds: number[] = []
  for (const group of target.metadata.row_groups) groupEnds.push((groupEnds.at(-1) ?? 0) + Number(group.num_rows))
  const groupOf = new Uint32Array(unique.length)
  const wanted = new Map<number, { lo: number; hi: number }>()
  for (let i = 0, g = 0; i < unique.length; i++) {
    const row = unique[i] as number
    while (g < groupEnds.length - 1 && row >= (groupEnds[g] as number)) g++
    groupOf[i] = g
    const w = wanted.get(g)
    if (w) w.hi = row
    else wanted.set(g, { lo: row, hi: row })
  }
  // from a local file, the pages of a group's large chunks without an offset index found first,
  // as a read of some of its rows would find them (walkForRows), so its rule knows them
  for (const { lo, hi } of wanted.values()) await walkForRows(target.cached.inner, target.metadata, lo, hi + 1, columns, target.name)
  // per row group, the columns whose chunk there has no page locations (a read of any of its rows
  // fetches and decodes it whole) are read apart from the rest, in spans over the whole group:
  // read with the others in spans of nearby rows, every span decoded that chunk again (100
  // filtered rows of a 1 M-row file over HTTP took 8 s and 1 GB)
  const local = Boolean(target.cached.local)
  const groups: Array<{ g: number; rows: number[]; whole: string[]; paged: string[] }> = []
  for (let i = 0; i < unique.length; ) {
    const g = groupOf[i] as number
    let next = i
    while (next < unique.length && groupOf[next] === g) next++
    const whole = costly ? [] : columns.filter((c) => !pagesKnown(target.metadata, g, c))
    groups.push({ g, rows: unique.slice(i, next), whole, paged: columns.filter((c) => !whole.includes(c)) })
    i = next
  }
  // over HTTP the groups' offset indexes are read all at once (one round trip, as the reads
  // themselves would have read them; those then find them in the cache)
  const pageRules = await Promise.all(
    groups.map(({ g, paged }) => (paged.length && !local && !costly ? pageStarts(target, g, paged) : undefined)),
  )
  const spans: Array<{ start: number; end: number; columns: string[]; rows: number[] }> = []
  for (const [at, { g, rows: inGroup, whole, paged }] of groups.entries()) {
    const pages = pageRules[at]
    const pagedRule: SpanRule = pages
      ? { pages, groupStart: g ? (groupEnds[g - 1] as number) : 0 }
      : spanRule(target.metadata, g, paged, local, costly)
    for (const [cols, rule] of [
      [whole, { whole: true }],
      [paged, pagedRule],
    ] as const) {
      if (!cols.length) continue
      let last: (typeof spans)[number] | undefined
      for (const row of inGroup) {
        const covered = last ? row + 1 - last.start : 0
        const reaches = (s: { end: number; rows: number[] }) =>
          'whole' in rule
            ? true
            : 'perRow' in rule
              ? covered <= rule.perRow * (s.rows.length + 1)
              : 'gap' in rule
                ? row - s.end < rule.gap
                : rule.pages.every((firsts) => {
                    const pageOf = (r: number) => partitionPoint(0, firsts.length, (p) => (firsts[p] as number) > r - rule.groupStart)
                    return pageOf(row) === pageOf(s.end - 1)
                  })
        if (last && covered <= MAX_SPAN_ROWS && reaches(last)) {
          last.end = row + 1
          last.rows.push(row)
        } else {
          last = { start: row, end: row + 1, columns: cols, rows: [row] }
          spans.push(last)
        }
      }
    }
  }
  const parts = new Map<number, Record<string, unknown>>()
  await Promise.all(
    spans.map(async (s) => {
      const objs = await readSpan(target, batching, s.start, s.end, s.columns)
      for (const row of s.rows) parts.set(row, Object.assign(parts.get(row) ?? {}, objs[row - s.start]))
    }),
  )
  // each row's values in the order of `columns`, as one read gives them
  for (const [row, got] of parts) {
    const ordered: Record<string, unknown> = {}
    for (const c of columns) if (c in got) ordered[c] = got[c]
    values.set(row, ordered)
  }
  return values
}

/**
 * Values of `columns` for rows [start, end) of one file, in order: what a table view scrolls
 * through. Only the pages holding those rows are read (offset indexes).
 */
export async function readRowSpan(
  target: ParquetTarget,
  start: number,
  end: number,
  columns: string[],
  o: { signal?: AbortSignal } = {},
): Promise<Array<Record<string, unknown>>> {
  const rows = Number(target.metadata.num_rows)
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > rows || start > end)
    throw new ParquetSeekError(`rows ${start}…${end} are outside the file's ${rows} rows`, { file: target.name })
  if (start === end || !columns.length) return Array.from({ length: end - start }, () => ({}))
  checkColumns(target, columns)
  return readSpan(target, new BatchingSource(target.cached, undefined, undefined, o.signal), start, end, columns)
}

/**
 * The stored vector of one row (a query "like row N"), float32, read through the offset index
 * (only its page). A row without a vector is an error naming it.
 */
export async function rowVector(
  target: ParquetTarget,
  column: EmbeddingColumn,
  row: number,
  dim: number,
  signal?: AbortSignal,
): Promise<Float32Array> {
  const rows = Number(target.metadata.num_rows)
  if (!Number.isInteger(row) || row < 0 || row >= rows)
    throw new ParquetSeekError(`row ${row} is outside the file's ${rows} rows`, { file: target.name })
  const [value] = await readColumnRange(target.cached, target.metadata, column.name, row, row + 1, target.name, signal)
  if (value === null || value === undefined)
    throw new ParquetSeekError('this row has no vector', { file: target.name, column: column.name, row })
  const out = new Float32Array(dim)
  copyVector(out, 0, value as ArrayLike<number> | Uint8Array, column.kind)
  return out
}

function checkColumns(target: ParquetTarget, columns: string[]): void {
  const known = new Set(summarizeColumns(target.metadata).map((c) => c.name))
  for (const c of columns) {
    if (!known.has(c))
      throw new ParquetSeekError(`no such column to return; the columns are: ${[...known].join(', ')}`, { file: target.name, column: c })
  }
}

async function readSpan(
  target: ParquetTarget,
  batching: BatchingSource,
  start: number,
  end: number,
  columns: string[],
): Promise<Array<Record<string, unknown>>> {
  const { metadata, name } = target
  // a local file's large chunks without an offset index: their pages found first (not cached:
  // the walk's windows would crowd out the pages read)
  await walkForRows(target.cached.inner, metadata, start, end, columns, name)
  // vector columns (LISTs of numbers) as the search reads them, their values as stored
  // (readListVectors: a DuckDB NULL FLOAT[n] is one row, where hyparquet makes n); other lists
  // as readColumnRange reads them (readListRows: such a NULL of any list is one row too); the rest
  // through hyparquet, all at once (one round trip)
  const vectors = findEmbeddingColumns(metadata).filter((c) => c.kind === 'list' && columns.includes(c.name))
  const lists = columns.filter((c) => !vectors.some((v) => v.name === c) && isRepeatedColumn(metadata, c))
  const others = columns.filter((c) => !vectors.some((v) => v.name === c) && !lists.includes(c))
  const read = async () => {
    const [rows, ...byColumn] = await Promise.all([
      others.length
        ? parquetReadObjects({
            file: guardPages(batching, metadata, name),
            metadata,
            columns: others,
            rowStart: start,
            rowEnd: end,
            useOffsetIndex: true,
            ...pageTableOptions(metadata),
            compressors: codecs,
          }).then((r) => exactDecimals(r, decimalScales(metadata), others))
        : Array.from({ length: end - start }, () => ({})),
      ...vectors.map((v) => vectorSpan(batching, metadata, v, start, end, name)),
      ...lists.map((c) => readColumnRange(batching, metadata, c, start, end, name)),
    ])
    const read = new Map<string, unknown[]>([...vectors.map((v) => v.name), ...lists].map((c, i) => [c, byColumn[i] as unknown[]]))
    // (each row's values in the order asked for)
    return (rows as Array<Record<string, unknown>>).map((r, i) =>
      Object.fromEntries(columns.map((c) => [c, read.has(c) ? read.get(c)?.[i] : r[c]])),
    )
  }
  return decoding(
    end - start === 1 ? `reading row ${start}` : `reading rows ${start}…${end - 1}`,
    { file: name, column: columns.join(', '), ...chunkOf(metadata, start) },
    read,
  )
}

/** Rows [start, end) of a vector column, each its numbers (or null where it has none), a row group's part at a time. */
async function vectorSpan(
  source: BatchingSource,
  metadata: FileMetaData,
  column: EmbeddingColumn,
  start: number,
  end: number,
  file: string,
): Promise<Array<number[] | Array<number | null> | null>> {
  const out: Array<number[] | Array<number | null> | null> = []
  for (const part of groupParts(metadata, start, end)) {
    const at = await readVectorRange(source, metadata, column, part.g, part.groupStart, part.start, part.end, 0, file, undefined, true)
    for (let row = part.start; row < part.end; row++) {
      const v = at(row)
      out.push(v === null || v === undefined ? null : Array.from(v as ArrayLike<number | null>))
    }
  }
  return out
}

/** Row group and byte offset of the row's first column chunk, for messages. */
function chunkOf(metadata: FileMetaData, row: number): { section: string; offset?: number } {
  let start = 0
  for (const [g, group] of metadata.row_groups.entries()) {
    const end = start + Number(group.num_rows)
    if (row < end) return { section: `row group ${g}`, offset: Number(group.columns[0]?.meta_data?.data_page_offset ?? 0) }
    start = end
  }
  return { section: 'row groups' }
}
