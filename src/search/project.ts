import { parquetReadObjects } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { ParquetSeekError } from '../errors.js'
import { BatchingSource } from '../io/batching.js'
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
      const [obj] = await parquetReadObjects({
        file: batching,
        metadata: index.metadata,
        columns,
        rowStart: row,
        rowEnd: row + 1,
        useOffsetIndex: true,
        compressors,
      })
      values.set(row, obj ?? {})
    }),
  )
  return { values, roundTrips: batching.roundTrips }
}
