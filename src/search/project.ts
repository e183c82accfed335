import { parquetReadObjects } from 'hyparquet'
import { decoding, ParquetSeekError } from '../errors.js'
import { BatchingSource } from '../io/batching.js'
import { codecs } from '../parquet/codecs.js'
import { guardPages } from '../parquet/guard.js'
import type { OpenedIndex } from './open.js'

/**
 * Values of `columns` for the given rows, read through the offset index (pinned at open) so
 * only the pages holding those rows are fetched, coalesced into one round trip.
 */
export async function projectRows(
  index: OpenedIndex,
  rows: number[],
  columns: string[],
  signal?: AbortSignal,
): Promise<{ values: Map<number, Record<string, unknown>>; roundTrips: number }> {
  const values = new Map<number, Record<string, unknown>>()
  if (!rows.length || !columns.length) return { values, roundTrips: 0 }
  const known = new Set(index.metadata.schema.slice(1).map((s) => s.name))
  for (const c of columns) {
    if (!known.has(c))
      throw new ParquetSeekError(`no such column to return; the columns are: ${[...known].join(', ')}`, { file: index.raw.name, column: c })
  }
  const batching = new BatchingSource(index.cached, undefined, undefined, signal)
  const unique = [...new Set(rows)].sort((a, b) => a - b)
  await Promise.all(
    unique.map(async (row) => {
      const [obj] = await decoding(`reading row ${row}`, { file: index.raw.name, column: columns.join(', '), ...chunkOf(index, row) }, () =>
        parquetReadObjects({
          file: guardPages(batching, index.metadata, index.raw.name),
          metadata: index.metadata,
          columns,
          rowStart: row,
          rowEnd: row + 1,
          useOffsetIndex: true,
          compressors: codecs,
        }),
      )
      values.set(row, obj ?? {})
    }),
  )
  return { values, roundTrips: batching.roundTrips }
}

/** Row group and byte offset of the row's first requested column chunk, for messages. */
function chunkOf(index: OpenedIndex, row: number): { section: string; offset?: number } {
  let start = 0
  for (const [g, group] of index.metadata.row_groups.entries()) {
    const end = start + Number(group.num_rows)
    if (row < end) return { section: `row group ${g}`, offset: Number(group.columns[0]?.meta_data?.data_page_offset ?? 0) }
    start = end
  }
  return { section: 'row groups' }
}
