import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { resultsCsv } from '../src/app/csv.js'
import { serveFile } from '../src/cli/rangeServer.js'
import { AbortError } from '../src/errors.js'
import { type RowRange, rowGroupBlocks } from '../src/search/parts.js'
import { engineApi, type PageHit } from '../workers/engineApi.js'
import { duckdb, tempDir, writeIdTextFile } from './helpers/fixtures.js'

/** Values as the engine hands them to the page (JSON values): text, numbers, NULL, lists, structs. */
const HITS: PageHit[] = [
  { row: 7, distance: 0.123456789, values: { title: 'a, "quoted"\r\nline', n: 3, tags: ['x', 'y'], s: { a: 1 }, note: null } },
  { row: 2, distance: 0.5, values: { title: '', n: -1.25, tags: [], s: { a: 2 }, note: 'plain' } },
]

it("results as CSV read back by DuckDB's CSV reader: every field as it was, text with commas, quotes and line breaks, empty text apart from NULL", async () => {
  const csv = resultsCsv(HITS, ['title', 'n', 'tags', 's', 'note', 'hidden'])
  expect(csv.split('\r\n')[0]).toBe('row,distance,title,n,tags,s,note') // a column no hit has a value of is left out
  const file = join(tempDir(), 'results.csv')
  writeFileSync(file, csv)
  const db = await duckdb()
  try {
    // allow_quoted_nulls = false: a quoted empty field is empty text, as DuckDB's COPY writes it
    const rows = await db.rows(
      `SELECT row, distance, title, n, tags, s, note FROM read_csv('${file}', header = true, all_varchar = true, quote = '"', escape = '"', allow_quoted_nulls = false)`,
    )
    expect(rows).toEqual([
      ['7', '0.123456789', 'a, "quoted"\r\nline', '3', '["x","y"]', '{"a":1}', null],
      ['2', '0.5', '', '-1.25', '[]', '{"a":2}', 'plain'],
    ])
  } finally {
    db.close()
  }
})

it("a manifest's results name each hit's file and its row there", () => {
  const hits: PageHit[] = [
    { row: 120, distance: 1, values: { word: 'joy' }, file: 'https://example.org/b.parquet', fileRow: 20 },
    { row: 3, distance: 2, values: { word: 'glee' }, file: 'https://example.org/a.parquet', fileRow: 3 },
  ]
  expect(resultsCsv(hits, ['word'])).toBe(
    'row,file,file_row,distance,word\r\n120,https://example.org/b.parquet,20,1,joy\r\n3,https://example.org/a.parquet,3,2,glee\r\n',
  )
})

describe("the Data view's rows as CSV (the engine's rowsCsv)", () => {
  // 300,000 rows in three row groups of 100,000, read in two blocks (at most 200,000 rows, whole
  // groups): labels repeat (a sort has ties), some hold a comma or a quote, every 13th is NULL
  const n = 300_000
  const labels = Array.from({ length: n }, (_, i) =>
    i % 13 === 0 ? null : i % 101 === 0 ? `w, "${i % 50}"` : `w${String((i * 37) % 1000).padStart(3, '0')}`,
  )
  /** The CSV of `rows` as written out by hand: the row, its id, its label (NULL empty, quoted where it must be). */
  const expected = (rows: Iterable<number>) => [
    'row,id,label',
    ...Array.from(rows, (r) => {
      const label = labels[r] ?? null
      return `${r},${r},${label === null ? '' : label.includes(',') ? `"${label.replaceAll('"', '""')}"` : label}`
    }),
  ]
  /** `csv` is those lines, each ending in CRLF (a failure shows the first line that differs, not 10 MB of text). */
  const expectLines = async (csv: Blob, lines: string[]) => {
    const text = await csv.text()
    expect(text.endsWith('\r\n')).toBe(true)
    const got = text.slice(0, -2).split('\r\n')
    const at = got.findIndex((line, i) => line !== lines[i])
    expect(at === -1 ? undefined : { line: at, got: got[at], expected: lines[at] }).toBeUndefined()
    expect(got.length).toBe(lines.length)
  }

  it('every row in file order, a filter’s rows, and a sort’s order across blocks, each row in its place', async () => {
    const dir = tempDir('pqs-rows-csv-')
    writeIdTextFile(join(dir, 'labels.parquet'), 'label', labels, 100_000)
    const server = await serveFile(join(dir, 'labels.parquet'), { host: 's3' })
    const api = engineApi()
    try {
      const { id } = await api.open(server.url, 'js')
      const every = await api.rowsCsv(id, undefined, ['id', 'label'])
      expect(every.type).toBe('text/csv')
      await expectLines(every, expected(Array.from({ length: n }, (_, i) => i)))
      // a filter's rows (in file order); a sort's, largest label first (read in file order, each
      // line put at its place); the filter's rows sorted; the columns in the order asked
      const { rows: passing } = await api.filterRows(id, "label >= 'w500'")
      expect(passing.length).toBeGreaterThan(n / 3)
      await expectLines(await api.rowsCsv(id, passing, ['id', 'label']), expected(passing))
      const order = await api.orderRows(id, 'label', true, undefined)
      expect(order[0]).not.toBe(0)
      await expectLines(await api.rowsCsv(id, order, ['id', 'label']), expected(order))
      const some = await api.orderRows(id, 'label', false, passing)
      await expectLines(await api.rowsCsv(id, some, ['id', 'label']), expected(some))
      const [header, first] = (await (await api.rowsCsv(id, some.subarray(0, 1), ['label', 'id'])).text()).split('\r\n')
      expect([header, first]).toEqual(['row,label,id', `${some[0]},${labels[some[0] as number]},${some[0]}`])
    } finally {
      await server.close()
    }
  })

  it('says how far it has got, and Cancel stops it', async () => {
    const dir = tempDir('pqs-rows-csv-cancel-')
    writeIdTextFile(join(dir, 'labels.parquet'), 'label', labels, 100_000)
    const server = await serveFile(join(dir, 'labels.parquet'), { host: 's3', delayMs: 20 })
    const api = engineApi()
    try {
      const { id } = await api.open(server.url, 'js')
      const job = api.job()
      const writing = api.rowsCsv(id, undefined, ['id', 'label'], job)
      writing.catch(() => {})
      await vi.waitFor(() => expect(api.rowsProgress(job)).toEqual({ rows: 200_000, of: n }), { timeout: 10_000, interval: 1 })
      api.cancel(job)
      await expect(writing).rejects.toThrow(AbortError)
      expect(api.rowsProgress(job)?.rows).toBeLessThan(n)
    } finally {
      await server.close()
    }
  })
})

it('blocks of rows read in file order end at row groups’ ends: whole groups up to the most a block holds, a larger group in parts', () => {
  // two files of row groups 0–99, 100–149, 150–349 and 350–399, 400–409
  const file = (rowBase: number, groups: number[]) =>
    ({
      rowBase,
      rows: groups.reduce((a, b) => a + b, 0),
      metadata: { row_groups: groups.map((g) => ({ num_rows: BigInt(g) })) },
    }) as unknown as RowRange
  const parts = [file(0, [100, 50, 200]), file(350, [50, 10])]
  const every = (at: number) => at
  expect(rowGroupBlocks(parts, 410, every, 160)).toEqual([150, 310, 410])
  expect(rowGroupBlocks(parts, 410, every, 1000)).toEqual([410])
  expect(rowGroupBlocks(parts, 410, every, 100)).toEqual([100, 150, 250, 350, 410])
  // rows a filter kept: each row group's 2 rows; blocks of 5 end where a group does
  const kept = [0, 1, 100, 101, 150, 151, 350, 351, 400, 401]
  expect(rowGroupBlocks(parts, kept.length, (at) => kept[at] as number, 5)).toEqual([4, 8, 10])
  expect(rowGroupBlocks(parts, 0, every, 5)).toEqual([])
})
