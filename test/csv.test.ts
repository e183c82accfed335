import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { expect, it } from 'vitest'
import { resultsCsv } from '../src/app/csv.js'
import type { PageHit } from '../workers/engineApi.js'
import { duckdb, tempDir } from './helpers/fixtures.js'

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
