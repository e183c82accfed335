import { join } from 'node:path'
import { parquetMetadataAsync, parquetReadObjects } from 'hyparquet'
import { expect, it, vi } from 'vitest'
import { CachedSource } from '../src/io/cache.js'
import type { ByteSource } from '../src/io/source.js'
import { readRows } from '../src/search/columns.js'
import { tempDir, testSource, writeIdTextFile } from './helpers/fixtures.js'

// every read of rows goes through hyparquet's parquetReadObjects: counted here, still run
vi.mock('hyparquet', async (original) => {
  const hyparquet = await original<typeof import('hyparquet')>()
  return { ...hyparquet, parquetReadObjects: vi.fn(hyparquet.parquetReadObjects) }
})

it('rows read by number over HTTP: rows sharing a page read as one span, a column without an offset index once a row group', async () => {
  // 200,000 rows in two groups (hyparquet-writer): `id` in one page a group and no offset index
  // (any read of it decodes the group's whole chunk), `label` in ~44,000-row pages with one. Read
  // 100 rows spread over the file, as the Data view reads a filter's rows, spans of rows within
  // 32 of each other decoded both columns' pages once a row: 8 s and 1 GB for a 1 M-row file.
  const n = 200_000
  const labels = Array.from({ length: n }, (_, i) => `label ${(i * 7919) % n}`)
  const path = join(tempDir('pqs-row-spans-'), 'spread.parquet')
  writeIdTextFile(path, 'label', labels, n / 2)
  const source = await testSource(path)
  const metadata = await parquetMetadataAsync(source)
  expect(metadata.row_groups.map((g) => g.columns.map((c) => Boolean(c.offset_index_length)))).toEqual([
    [false, true],
    [false, true],
  ])
  const remote: ByteSource = { byteLength: source.byteLength, name: path, slice: (a, b) => source.slice(a, b) }
  const target = { cached: new CachedSource(remote), metadata, name: path }
  const rows = Array.from({ length: 100 }, (_, i) => (i * 1999 + 7) % n)
  const reads = vi.mocked(parquetReadObjects)
  reads.mockClear()
  const got = await readRows(target, rows, ['id', 'label'])
  for (const row of rows) expect(got.get(row)).toEqual({ id: row, label: labels[row] })
  // each row's values in the order the columns were asked
  expect(Object.keys(got.get(rows[0] as number) ?? {})).toEqual(['id', 'label'])
  const spans = reads.mock.calls.map(([o]) => ({ columns: o.columns, rows: (o.rowEnd ?? 0) - (o.rowStart ?? 0) }))
  expect(spans.filter((s) => s.columns?.includes('id'))).toHaveLength(2)
  expect(spans.filter((s) => s.columns?.includes('id')).every((s) => s.columns?.length === 1)).toBe(true)
  expect(spans.filter((s) => s.columns?.includes('label')).length).toBeLessThanOrEqual(6)
})
