import type { FileMetaData } from 'hyparquet'
import { parquetReadObjects } from 'hyparquet'
import { decoding, ParquetSeekError } from '../errors.js'
import { BatchingSource } from '../io/batching.js'
import type { CachedSource } from '../io/cache.js'
import { codecs } from '../parquet/codecs.js'
import { guardPages } from '../parquet/guard.js'

/** A Parquet file being read: its cached source and footer. */
export interface ParquetTarget {
  cached: CachedSource
  metadata: FileMetaData
  name: string
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
  const known = new Set(target.metadata.schema.slice(1).map((s) => s.name))
  for (const c of columns) {
    if (!known.has(c))
      throw new ParquetSeekError(`no such column to return; the columns are: ${[...known].join(', ')}`, { file: target.name, column: c })
  }
  const batching = new BatchingSource(target.cached, undefined, o.connections, o.signal)
  const unique = [...new Set(rows)].sort((a, b) => a - b)
  await Promise.all(
    unique.map(async (row) => {
      const [obj] = await decoding(
        `reading row ${row}`,
        { file: target.name, column: columns.join(', '), ...chunkOf(target.metadata, row) },
        () =>
          parquetReadObjects({
            file: guardPages(batching, target.metadata, target.name),
            metadata: target.metadata,
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
  return values
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
