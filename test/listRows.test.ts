import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { SchemaElement } from 'hyparquet'
import { parquetMetadata, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'
import { parquetHeader } from 'hyparquet/src/column.js'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { describe, expect, it } from 'vitest'
import { writeV1SplitList } from '../scripts/pyarrowLike.js'
import { CachedSource } from '../src/io/cache.js'
import { fileSource } from '../src/io/nodeFile.js'
import { type ByteSource, CountingSource } from '../src/io/source.js'
import { codecs } from '../src/parquet/codecs.js'
import { readColumnRange, summarizeColumns } from '../src/parquet/embedding.js'
import { isRepeatedColumn } from '../src/parquet/listRows.js'
import { pageTableOptions, walkFilePages } from '../src/parquet/pageLocations.js'
import { filterRows, parseWhere } from '../src/query/filter.js'
import { readRowSpan, readRows } from '../src/search/columns.js'
import { duckdb, tempDir, testSource, writeListFile } from './helpers/fixtures.js'

/**
 * readListRows reads a list column (one leaf below repeated levels) with hyparquet's page decoding
 * and assembly, but its rows cut as Dremel defines them: hyparquet 1.31 reads DuckDB's NULL of a
 * fixed-size array (n levels below the list) as n rows, silently moving every later row of the page.
 */

/** Values as JSON compares them: 64-bit integers as numbers, dates as days. */
const plain = (v: unknown) =>
  JSON.parse(
    JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? Number(x) : x === undefined ? null : x)),
    (_, x) => (typeof x === 'string' && /^\d{4}-\d\d-\d\dT00:00:00.000Z$/.test(x) ? x.slice(0, 10) : x),
  )

describe('list columns read as Dremel defines rows (readListRows)', () => {
  it("DuckDB's lists — empty, null, holding nulls, nested, fixed-size with NULL rows (hyparquet reads such a NULL as n rows) — as DuckDB reads them, V1 and V2 pages, whole and in parts", async () => {
    const dir = tempDir('pqs-list-rows-')
    const db = await duckdb()
    try {
      const select = `SELECT i AS id,
          (CASE WHEN i % 97 = 3 THEN NULL WHEN i % 13 = 0 THEN [] ELSE [i, NULL, i * 2] END)::INTEGER[] AS ints,
          (CASE WHEN i % 50 = 7 THEN NULL ELSE ['a' || (i % 5), NULL, 'text ' || i] END)::VARCHAR[] AS strs,
          (CASE WHEN i % 31 = 1 THEN NULL ELSE [[i::DOUBLE, 1.5], NULL, []] END)::DOUBLE[][] AS nested,
          (CASE WHEN i % 41 = 2 THEN NULL ELSE [i, i + 1, i + 2] END)::BIGINT[3] AS fixed,
          (CASE WHEN i % 29 = 2 THEN NULL ELSE ['x' || (i % 3), 'y', NULL] END)::VARCHAR[3] AS fixedtext,
          [DATE '2020-01-01' + (i % 100)::INTEGER] AS dates
        FROM range(5000) t(i)`
      for (const version of ['V1', 'V2']) {
        const path = join(dir, `duck-${version}.parquet`)
        await db.run(`COPY (${select}) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE 2048, PARQUET_VERSION ${version})`)
        const truth = (await db.rows(`SELECT to_json(t)::VARCHAR FROM '${path}' t ORDER BY id`)).map(([j]) => JSON.parse(j as string))
        const source = await testSource(path)
        const metadata = await parquetMetadataAsync(source)
        const names = summarizeColumns(metadata).map((c) => c.name)
        expect(names.filter((n) => isRepeatedColumn(metadata, n))).toEqual(['ints', 'strs', 'nested', 'fixed', 'fixedtext', 'dates'])
        for (const name of names) {
          // whole; across row groups (2048); one row after a NULL array (row 43: fixed's NULL at 2, 43)
          for (const [a, b] of [
            [0, 5000],
            [2040, 4100],
            [44, 45],
            [4999, 5000],
          ] as const) {
            const got = plain(await readColumnRange(source, metadata, name, a, b, path))
            expect(got, `${version} ${name} rows ${a}…${b}`).toEqual(truth.slice(a, b).map((r) => r[name]))
          }
        }
      }
    } finally {
      db.close()
    }
  })

  it('where hyparquet reads a list right, the same values: lists of text, 64-bit integers and lists in small pages, whole and a page at a time; older pyarrow V1 pages cut inside rows after a dictionary page', async () => {
    const dir = tempDir('pqs-list-rows-')
    const path = join(dir, 'lists.parquet')
    const rows = 3000
    const list = (name: string, leaf: Omit<SchemaElement, 'name' | 'repetition_type'>): SchemaElement[] => [
      { name, repetition_type: 'OPTIONAL', num_children: 1, converted_type: 'LIST' },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', repetition_type: 'OPTIONAL', ...leaf },
    ]
    const schema: SchemaElement[] = [
      { name: 'root', num_children: 3 },
      ...list('tags', { type: 'BYTE_ARRAY', converted_type: 'UTF8' }),
      ...list('big', { type: 'INT64' }),
      { name: 'grid', repetition_type: 'OPTIONAL', num_children: 1, converted_type: 'LIST' },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      ...list('element', { type: 'DOUBLE' }),
    ]
    const tags = Array.from({ length: rows }, (_, i) => (i % 11 === 0 ? null : i % 7 === 0 ? [] : [`t${i % 9}`, null, `w${i}`]))
    const big = Array.from({ length: rows }, (_, i) => (i % 13 === 1 ? null : [BigInt(i) * 10_000_000_000n, -1n]))
    const grid = Array.from({ length: rows }, (_, i) => (i % 17 === 2 ? null : [[i * 0.5, null], null, [], [1.25]]))
    writeFileSync(
      path,
      new Uint8Array(
        parquetWriteBuffer({
          schema,
          columnData: [
            { name: 'tags', data: tags },
            { name: 'big', data: big },
            { name: 'grid', data: grid },
          ],
          pageSize: 4096,
          rowGroupSize: 1200,
        }),
      ),
    )
    const pyarrow = join(dir, 'pyarrow.parquet')
    const vectors = Float32Array.from({ length: 900 * 16 }, (_, i) => (i % 97) / 8)
    writeV1SplitList(pyarrow, vectors, 16, { pageValues: 1000, dictionaryPages: 1, codec: 'SNAPPY' })
    for (const [file, names] of [
      [path, ['tags', 'big', 'grid']],
      [pyarrow, ['embedding']],
    ] as const) {
      const source = await testSource(file)
      const metadata = await parquetMetadataAsync(source)
      const n = Number(metadata.num_rows)
      for (const name of names) {
        expect(isRepeatedColumn(metadata, name)).toBe(true)
        const hyparquet = (await parquetReadObjects({ file: source, metadata, columns: [name], compressors: codecs })).map(
          (r) => r[name] ?? null,
        )
        // whole; across a row group's end (1,200) or pages (pyarrow's, of 1,000 values); the last rows
        for (const [a, b] of [
          [0, n],
          [n > 1200 ? 1190 : 55, n > 1200 ? 1210 : 70],
          [n - 3, n],
        ]) {
          expect(await readColumnRange(source, metadata, name, a as number, b as number, file), `${name} ${a}…${b}`).toEqual(
            hyparquet.slice(a, b),
          )
        }
      }
    }
    // the pyarrow pages found by walking them (no offset index): read by them, not whole
    const source = await fileSource(pyarrow)
    try {
      const metadata = await parquetMetadataAsync(source)
      await walkFilePages(source, metadata)
      expect(pageTableOptions(metadata).pageLocationsByGroup?.[0]?.['embedding.list.element']?.length).toBeGreaterThan(1)
      const got = (await readColumnRange(source, metadata, 'embedding', 400, 420)) as number[][]
      expect(got.map((r) => r.length)).toEqual(Array.from({ length: 20 }, () => 16))
      expect(Float32Array.from(got.flat())).toEqual(vectors.subarray(400 * 16, 420 * 16))
    } finally {
      await source.close()
    }
  })

  it("DuckDB's structs and maps: a list of structs, a map, a struct holding an INTEGER[2], an INTEGER[2][3] and a map of INTEGER[3], each with NULLs (hyparquet moved the rows after each), and a struct of structs (refused as corrupt: its leaves' pages were checked by the first leaf's level widths) — as DuckDB reads them", async () => {
    const dir = tempDir('pqs-list-rows-')
    const path = join(dir, 'structs.parquet')
    const db = await duckdb()
    try {
      await db.run(`COPY (SELECT i AS id,
          (CASE WHEN i % 7 = 2 THEN NULL ELSE [{'a': i, 'b': 'x' || i}, {'a': -i, 'b': NULL}] END)::STRUCT(a INT, b VARCHAR)[2] AS s,
          (CASE WHEN i % 5 = 2 THEN NULL ELSE MAP {'k' || i: i} END) AS m,
          {'lang': 'l' || (i % 3), 'tags': (CASE WHEN i % 9 = 4 THEN NULL ELSE [i, i] END)::INTEGER[2]} AS meta,
          {'a': i, 'b': {'c': {'d': CASE WHEN i % 3 = 0 THEN NULL ELSE i END}}} AS deep,
          -- NULL arrays inside an array (orphan levels at repetition level 2), and as a map's values
          (CASE WHEN i % 7 = 1 THEN NULL ELSE [CASE WHEN i % 5 = 2 THEN NULL ELSE [i, i + 1] END, [NULL, i], CASE WHEN i % 3 = 0 THEN NULL ELSE [7, 8] END] END)::INTEGER[2][3] AS aa,
          (CASE WHEN i % 9 = 2 THEN NULL ELSE MAP {'a': CASE WHEN i % 2 = 0 THEN NULL ELSE [i, i, i] END} END)::MAP(VARCHAR, INTEGER[3]) AS mp
        FROM range(3000) t(i)) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE 1024)`)
      const truth = (await db.rows(`SELECT to_json(t)::VARCHAR FROM '${path}' t ORDER BY id`)).map(([j]) => JSON.parse(j as string))
      const source = await testSource(path)
      const metadata = await parquetMetadataAsync(source)
      for (const name of ['s', 'm', 'meta', 'deep', 'aa', 'mp']) {
        for (const [a, b] of [
          [0, 3000],
          [1020, 1030],
        ] as const) {
          const got = plain(await readColumnRange(source, metadata, name, a, b, path))
          expect(got, `${name} rows ${a}…${b}`).toEqual(truth.slice(a, b).map((r) => r[name]))
        }
      }
      // --where on the deep field, and on the field beside the struct's list
      for (const [where, sql] of [
        ['deep.b.c.d > 2990', 'deep.b.c.d > 2990'],
        ["meta.lang = 'l1' AND id < 20", "meta.lang = 'l1' AND id < 20"],
      ]) {
        const { bitmap } = await filterRows(source, metadata, parseWhere(where as string))
        const expected = (await db.rows(`SELECT id FROM '${path}' WHERE ${sql} ORDER BY id`)).map(([id]) => Number(id))
        expect(
          [...bitmap.entries()].filter(([, x]) => x).map(([i]) => i),
          where,
        ).toEqual(expected)
      }
    } finally {
      db.close()
    }
  })

  it("a level that repeats a null list yet holds a value: an error naming the column and the page, not a row made of another row's values", async () => {
    const dir = tempDir('pqs-list-rows-')
    const path = join(dir, 'bad.parquet')
    const bytes = new Uint8Array(
      parquetWriteBuffer({
        schema: [
          { name: 'root', num_children: 1 },
          { name: 'tags', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
          { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
          { name: 'element', type: 'INT32', repetition_type: 'OPTIONAL' },
        ],
        columnData: [{ name: 'tags', data: [null, [1, 2], [3]] }],
        codec: 'UNCOMPRESSED',
      }),
    )
    // the V2 page's repetition levels, bit-packed (header 3: one group of 8): 0,0,1,0 → 0,1,1,0,
    // so the value 1 repeats row 0's null list
    const metadata = parquetMetadata(bytes.buffer)
    const page = Number(metadata.row_groups[0]?.columns[0]?.meta_data?.data_page_offset)
    const reader = { view: new DataView(bytes.buffer, page), offset: 0 }
    expect(parquetHeader(reader).data_page_header_v2?.repetition_levels_byte_length).toBe(2)
    expect([...bytes.subarray(page + reader.offset, page + reader.offset + 2)]).toEqual([3, 0b0100])
    bytes[page + reader.offset + 1] = 0b0110
    writeFileSync(path, bytes)
    const source = await testSource(path)
    await expect(readColumnRange(source, await parquetMetadataAsync(source), 'tags', 0, 3, path)).rejects.toThrow(
      `${path}, column "tags", row 0, byte ${page}: a level repeats a list that is null or empty, yet holds a value (repetition level 1, definition level 3)`,
    )
  })

  it("DuckDB's INTEGER[3] with NULL rows: result columns, the Data view and --where give each row its own list", async () => {
    const dir = tempDir('pqs-list-rows-')
    const path = join(dir, 'duck.parquet')
    const db = await duckdb()
    try {
      await db.run(`COPY (
          SELECT i AS id, (CASE WHEN i % 1000 = 2 THEN NULL ELSE [i, i, i] END)::INTEGER[3] AS t
          FROM range(30000) t(i)
        ) TO '${path}' (FORMAT parquet)`)
      const source = await testSource(path)
      const metadata = await parquetMetadataAsync(source)
      const target = { cached: new CachedSource(source), metadata, name: 'duck.parquet' }
      // (hyparquet's rows: 2,000 → [1998 ×3], the NULLs at 1002 taking rows 1002–1004)
      const shown = await readRows(target, [1002, 2000, 29999], ['t', 'id'])
      expect(plain(Object.fromEntries(shown))).toEqual({
        1002: { t: null, id: 1002 },
        2000: { t: [2000, 2000, 2000], id: 2000 },
        29999: { t: [29999, 29999, 29999], id: 29999 },
      })
      const span = plain(await readRowSpan(target, 1000, 1006, ['t']))
      expect(span).toEqual([1000, 1001, null, 1003, 1004, 1005].map((i) => ({ t: i === null ? null : [i, i, i] })))
      // --where: the rows DuckDB's list_contains passes, each by its own list
      const where = 't BETWEEN 20000 AND 20100 OR t IN (5, 1002, 1003)'
      const { bitmap, passing } = await filterRows(source, metadata, parseWhere(where))
      const expected = (
        await db.rows(
          `SELECT id FROM '${path}' WHERE len(list_filter(t, x -> x BETWEEN 20000 AND 20100)) > 0 OR list_has_any(t, [5, 1002, 1003]) ORDER BY id`,
        )
      ).map(([id]) => Number(id))
      expect(passing).toBe(expected.length)
      expect([...bitmap.entries()].filter(([, b]) => b).map(([i]) => i)).toEqual(expected)
    } finally {
      db.close()
    }
  })
})

describe('result rows read by number', () => {
  it('rows in any order, near and far, across row groups and pages, each with its own values (near ones read as one span)', async () => {
    // 3 row groups of 1,000 rows, small pages, with and without offset indexes: rows sharing a
    // page, a group, or nothing; a text column with NULLs and a vector column
    const dir = tempDir('pqs-read-rows-')
    const n = 3000
    const asked = [2999, 0, 1, 3, 40, 999, 1000, 1001, 1500, 2998, 3, 11, 5]
    for (const offsetIndex of [true, false]) {
      const path = join(dir, `rows-${offsetIndex}.parquet`)
      writeListFile(
        path,
        Array.from({ length: n }, (_, i) => [i, i + 0.5]),
        { text: Array.from({ length: n }, (_, i) => (i % 11 === 0 ? null : `row ${i}`)) },
        {},
        { pageSize: 2048, rowGroupSize: 1000, offsetIndex },
      )
      const source = await testSource(path)
      const metadata = await parquetMetadataAsync(source)
      const target = { cached: new CachedSource(source), metadata, name: 'rows.parquet' }
      for (const columns of [['text'], ['embedding', 'text']]) {
        const got = await readRows(target, asked, columns)
        expect([...got.keys()].sort((a, b) => a - b)).toEqual([...new Set(asked)].sort((a, b) => a - b))
        for (const row of asked) {
          const want: Record<string, unknown> = { text: row % 11 === 0 ? null : `row ${row}`, embedding: [row, row + 0.5] }
          expect(plain(got.get(row))).toEqual(Object.fromEntries(columns.map((c) => [c, want[c]])))
        }
      }
      // over HTTP (a source that is not local) rows read together fetch no more bytes than read
      // one by one: a span does not reach over pages none of its rows needs (rows 0–3 and 999
      // of a group of 1,000 in ~2 KiB pages: two pages, not all of them)
      if (offsetIndex) {
        const remote = (): ByteSource => ({ byteLength: source.byteLength, name: path, slice: (a, b) => source.slice(a, b) })
        const bytes = async (groups: number[][]) => {
          const counting = new CountingSource(remote())
          const over = { cached: new CachedSource(counting), metadata, name: path }
          for (const rows of groups) await readRows(over, rows, ['text'])
          return counting.counts.bytes
        }
        const near = [0, 1, 2, 3, 999]
        expect(await bytes([near])).toBeLessThanOrEqual(await bytes(near.map((r) => [r])))
      }
    }
  })
})
