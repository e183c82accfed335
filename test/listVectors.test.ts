import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AsyncBuffer, FileMetaData, SchemaElement } from 'hyparquet'
import { parquetMetadataAsync, parquetReadObjects, readOffsetIndex } from 'hyparquet'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { describe, expect, it } from 'vitest'
import { writeV1SplitList } from '../scripts/pyarrowLike.js'
import { mulberry32 } from '../src/compute/random.js'
import { buildIndex } from '../src/index/build.js'
import { CachedSource } from '../src/io/cache.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { codecs } from '../src/parquet/codecs.js'
import { describeEmbeddingColumn, type EmbeddingColumn, readVectorRange, readVectors, vectorsAt } from '../src/parquet/embedding.js'
import { readListVectors, type VectorMatrix } from '../src/parquet/listVectors.js'
import { lz4Compress } from '../src/parquet/lz4.js'
import { pageTableOptions, walkFilePages } from '../src/parquet/pageLocations.js'
import { PAGE_LIMIT } from '../src/parquet/repage.js'
import { writeIndexed } from '../src/parquet/writeIndexed.js'
import { readRowSpan, readRows } from '../src/search/columns.js'
import { flatSearch } from '../src/search/flat.js'
import { clusteredVectors, duckdb, firstDifference, tempDir } from './helpers/fixtures.js'

/**
 * readListVectors decodes a list embedding column's pages straight into a Float32Array (no JS
 * array per row): for every layout writers produce it must give what hyparquet's row-by-row
 * decode gives, and leave every row it cannot vouch for (null, ragged, not finite) to it.
 */

/** Rows [a, b) as hyparquet decodes them, as float32. */
async function reference(source: AsyncBuffer, metadata: FileMetaData, a: number, b: number): Promise<Float32Array> {
  const read = await parquetReadObjects({ file: source, metadata, columns: ['embedding'], rowStart: a, rowEnd: b, compressors: codecs })
  const rows = read.map((r) => r.embedding as number[])
  return Float32Array.from(rows.flat())
}

/** Row ranges of a file of `rows` rows in groups of `groupRows`: whole groups, then parts of them. */
function rangesOf(rows: number, groupRows: number): Array<{ g: number; groupStart: number; a: number; b: number }> {
  const out = []
  for (let g = 0, groupStart = 0; groupStart < rows; g++, groupStart += groupRows) {
    const end = Math.min(rows, groupStart + groupRows)
    out.push({ g, groupStart, a: groupStart, b: end })
    out.push({ g, groupStart, a: groupStart + 37, b: Math.min(end, groupStart + 401) })
    out.push({ g, groupStart, a: end - 3, b: end })
  }
  return out
}

function listOf(element: SchemaElement): SchemaElement[] {
  return [
    { name: 'root', num_children: 1 },
    { name: 'embedding', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    { ...element, name: 'element', repetition_type: 'OPTIONAL' },
  ]
}

describe('vectors straight from list pages (readListVectors)', () => {
  const n = 1400
  const dim = 48
  const groupRows = 700
  const v = clusteredVectors(n, dim, 5)
  const rowsOf = (f: (x: number) => number) => Array.from({ length: n }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim), f))
  // (clusteredVectors lie within ±7: halves in eighths are exact, ×15 fits an int8)
  const layouts: Array<{
    name: string
    element: SchemaElement
    data: number[][]
    encoding?: 'RLE_DICTIONARY'
    codec?: 'UNCOMPRESSED' | 'LZ4_RAW'
  }> = [
    { name: 'FLOAT, SNAPPY', element: { name: 'element', type: 'FLOAT' }, data: rowsOf((x) => x) },
    { name: 'FLOAT, LZ4_RAW', element: { name: 'element', type: 'FLOAT' }, data: rowsOf((x) => x), codec: 'LZ4_RAW' },
    { name: 'FLOAT, uncompressed', element: { name: 'element', type: 'FLOAT' }, data: rowsOf((x) => x), codec: 'UNCOMPRESSED' },
    { name: 'DOUBLE', element: { name: 'element', type: 'DOUBLE' }, data: rowsOf((x) => x / 3) },
    {
      name: 'FLOAT16',
      element: { name: 'element', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 2, logical_type: { type: 'FLOAT16' } },
      data: rowsOf((x) => Math.round(x * 8) / 8),
    },
    { name: 'INT8', element: { name: 'element', type: 'INT32', converted_type: 'INT_8' }, data: rowsOf((x) => Math.round(x * 15)) },
    {
      name: 'FLOAT, dictionary-encoded',
      element: { name: 'element', type: 'FLOAT' },
      data: rowsOf((x) => Math.round(x * 4) / 4 + 0.125),
      encoding: 'RLE_DICTIONARY',
    },
  ]
  for (const layout of layouts)
    it(`${layout.name} (V2 pages of 16 KiB, two row groups): the same float32 rows as hyparquet's decode, pages known, located by an offset index, or read whole`, async () => {
      const dir = tempDir('pqs-list-vectors-')
      for (const offsetIndex of [false, true]) {
        const path = join(dir, `${offsetIndex}.parquet`)
        const buffer = parquetWriteBuffer({
          schema: listOf(layout.element),
          columnData: [{ name: 'embedding', data: layout.data, offsetIndex, ...(layout.encoding ? { encoding: layout.encoding } : {}) }],
          pageSize: 16 << 10,
          rowGroupSize: groupRows,
          ...(layout.codec ? { codec: layout.codec, compressors: { LZ4_RAW: lz4Compress } } : {}),
        })
        writeFileSync(path, new Uint8Array(buffer))
        const source = await fileSource(path)
        const metadata = await parquetMetadataAsync(source)
        const column = describeEmbeddingColumn(metadata, 'embedding')
        const chunk = metadata.row_groups[0]?.columns[0]
        if (layout.encoding) expect(chunk?.meta_data?.encodings).toContain('RLE_DICTIONARY')
        expect(chunk?.meta_data?.codec).toBe(layout.codec ?? 'SNAPPY')
        // unknown pages (whole chunks), then the pages known (walked, or the offset index)
        const tables = offsetIndex ? [undefined] : [undefined, await walkFilePages(source, metadata)]
        for (const table of tables)
          for (const { g, groupStart, a, b } of rangesOf(n, groupRows)) {
            const pages = table?.[g]?.['embedding.list.element']
            if (table) expect(pages?.length).toBeGreaterThan(2)
            for (const known of [0, dim]) {
              const read = await readListVectors(source, metadata, column, g, groupStart, a, b, known, pages)
              expect(read?.dim, `rows ${a}…${b}`).toBe(dim)
              expect(firstDifference(read?.data ?? new Float32Array(), await reference(source, metadata, a, b))).toBeUndefined()
            }
          }
        await source.close()
      }
    })

  it("older pyarrow's V1 pages cut inside rows, its dictionary-encoded first pages and SNAPPY: every range the same as hyparquet's decode, the vectors' length found from the first row", async () => {
    const dir = tempDir('pqs-list-vectors-v1-')
    const rows = 3000
    const d = 100
    const data = clusteredVectors(rows, d, 6).map((x) => Math.round(x * 16) / 16)
    const path = join(dir, 'v1.parquet')
    // pages of 2,500 values: 1 in 4 begins a row; the first three dictionary-encoded
    writeV1SplitList(path, data, d, { pageValues: 2500, dictionaryPages: 3, codec: 'SNAPPY' })
    const source = await fileSource(path)
    const metadata = await parquetMetadataAsync(source)
    const column = describeEmbeddingColumn(metadata, 'embedding')
    expect(metadata.row_groups[0]?.columns[0]?.meta_data?.dictionary_page_offset).toBe(4n)
    const whole = await readListVectors(source, metadata, column, 0, 0, 0, rows, 0, undefined)
    expect(whole?.dim).toBe(d)
    expect(firstDifference(whole?.data ?? new Float32Array(), data)).toBeUndefined()
    // by the entries the walk finds (each a run of pages beginning at a row): ranges inside entries,
    // across them, in the dictionary-encoded pages (their dictionary read from the chunk's start)
    await walkFilePages(source, metadata)
    const pages = pageTableOptions(metadata).pageLocationsByGroup?.[0]?.['embedding.list.element']
    expect(pages?.length).toBeGreaterThan(20)
    for (const [a, b] of [
      [0, 10],
      [26, 70],
      [101, 102],
      [555, 1717],
      [2999, 3000],
    ] as const) {
      const read = await readListVectors(source, metadata, column, 0, 0, a, b, a % 2 ? d : 0, pages)
      expect(firstDifference(read?.data ?? new Float32Array(), data.subarray(a * d, b * d)), `rows ${a}…${b}`).toBeUndefined()
    }
    // and through readVectors, blocks of 64 KiB: the same
    expect(
      firstDifference((await readVectors(source, await parquetMetadataAsync(source), column, { blockBytes: 64 << 10 })).data, data),
    ).toBeUndefined()
    await source.close()
  })

  it("DuckDB's writer (V1 pages, SNAPPY, a row group's column in one page): FLOAT[24] and DOUBLE[24] with NULL rows — n levels each, which hyparquet takes for n rows — read as DuckDB reads them, shown and rewritten as stored", async () => {
    const dir = tempDir('pqs-list-vectors-duck-')
    const path = join(dir, 'duck.parquet')
    const db = await duckdb()
    let truth: Array<[number[] | null, number[] | null]>
    try {
      await db.run('SELECT setseed(0.25)')
      await db.run(`COPY (
          SELECT (CASE WHEN i % 500 = 7 THEN NULL ELSE [random()::FLOAT for _ in range(24)] END)::FLOAT[24] AS embedding,
            (CASE WHEN i % 700 = 9 THEN NULL ELSE [random() for _ in range(24)] END)::DOUBLE[24] AS doubles
          FROM range(3000) t(i)
        ) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE 1024)`)
      // (as lists of numbers, in file order)
      const items = (v: unknown) => (v === null ? null : ((v as { items: number[] }).items ?? (v as number[])))
      truth = (await db.rows(`SELECT embedding::FLOAT[], doubles::DOUBLE[] FROM '${path}'`)).map(([e, d]) => [items(e), items(d)])
    } finally {
      db.close()
    }
    const source = await fileSource(path)
    const metadata = await parquetMetadataAsync(source)
    expect(metadata.row_groups.length).toBeGreaterThan(1)
    for (const [c, name] of ['embedding', 'doubles'].entries()) {
      const column = describeEmbeddingColumn(metadata, name)
      let groupStart = 0
      for (const [g, group] of metadata.row_groups.entries()) {
        const rows = Number(group.num_rows)
        for (const [a, b] of [
          [groupStart, groupStart + rows],
          [groupStart + 5, groupStart + 9],
        ]) {
          const read = await readListVectors(source, metadata, column, g, groupStart, a as number, b as number, 0, undefined)
          expect(read?.dim, `${name} rows ${a}…${b}`).toBe(24)
          const vectorAt = vectorsAt(read as VectorMatrix, a as number)
          for (let row = a as number; row < (b as number); row++) {
            const expected = truth[row]?.[c] ?? null
            const got = vectorAt(row)
            expect(got === null ? null : Array.from(got), `${name} row ${row}`).toEqual(
              expected === null ? null : Array.from(Float32Array.from(expected)),
            )
          }
          expect(read?.invalid.map((x) => x.reason)).toEqual(
            Array.from({ length: (b as number) - (a as number) }, (_, i) => (a as number) + i).flatMap((r) =>
              truth[r]?.[c] === null ? ['vector is null'] : [],
            ),
          )
        }
        groupStart += rows
      }
    }
    // result columns and the Data view's rows: DuckDB's rows, the NULL one null
    const target = { cached: new CachedSource(source), metadata, name: 'duck.parquet' }
    const shown = await readRows(target, [7, 600], ['embedding', 'doubles'])
    expect(shown.get(600)?.embedding).toEqual(Array.from(Float32Array.from(truth[600]?.[0] as number[])))
    expect(shown.get(600)?.doubles).toEqual(truth[600]?.[1])
    expect(shown.get(7)?.embedding).toBeNull()
    expect((await readRows(target, [709, 1409], ['doubles'])).get(1409)?.doubles).toEqual(truth[1409]?.[1])
    const span = await readRowSpan(target, 1000, 1030, ['doubles', 'embedding'])
    expect(span.map((r) => Object.keys(r))).toEqual(Array.from({ length: 30 }, () => ['doubles', 'embedding']))
    expect(span.map((r) => r.embedding)).toEqual(
      truth.slice(1000, 1030).map(([e]) => (e === null ? null : Array.from(Float32Array.from(e)))),
    )
    // the search: row 600's vector is found at row 600 (hyparquet's rows put it at 623)
    const q = Float32Array.from(truth[600]?.[0] as number[])
    const [hits] = await flatSearch(source, metadata, [q], { column: 'embedding', metric: 'l2', k: 1 })
    expect(hits?.[0]).toEqual({ row: 600, distance: 0 })
    // each column rewritten one vector a page (index): DuckDB reads the rows it wrote, doubles exact
    const dbOut = await duckdb()
    try {
      for (const name of ['embedding', 'doubles']) {
        const out = join(dir, `${name}.parquet`)
        const sink = await fileSink(out, path)
        await writeIndexed({ source, metadata, column: describeEmbeddingColumn(metadata, name), sink, keyValues: () => [] })
        await sink.commit()
        const cast = name === 'embedding' ? 'FLOAT[]' : 'DOUBLE[]'
        const back = (await dbOut.rows(`SELECT ${name}::${cast} FROM '${out}'`)).map(([v]) =>
          v === null ? null : ((v as { items: number[] }).items ?? v),
        )
        expect(back, name).toEqual(truth.map((t) => t[name === 'embedding' ? 0 : 1]))
      }
    } finally {
      dbOut.close()
    }
    await source.close()
  })

  it("index --cluster-rows of DuckDB's FLOAT[8] with NULL rows: every row moved with its own vector (it was refused: the value count did not match)", async () => {
    const dir = tempDir('pqs-list-vectors-cluster-')
    const path = join(dir, 'duck.parquet')
    const out = join(dir, 'clustered.parquet')
    const db = await duckdb()
    try {
      await db.run(`COPY (
          SELECT i AS id, (CASE WHEN i % 500 = 7 THEN NULL ELSE [i::FLOAT + j * 0.001 for j in range(8)] END)::FLOAT[8] AS embedding
          FROM range(3000) t(i)
        ) TO '${path}' (FORMAT parquet)`)
      const source = await fileSource(path)
      await buildIndex(source, await fileSink(out, path), { column: 'embedding', clusterRows: true, skipInvalid: true, nlist: 8 })
      await source.close()
      // every row of the output holds its input row's id and vector (the NULLs too)
      const [[same, total]] = (await db.rows(
        `SELECT count(*) FILTER (WHERE a.embedding::FLOAT[] IS NOT DISTINCT FROM b.embedding::FLOAT[]), count(*) FROM '${out}' a JOIN '${path}' b USING (id)`,
      )) as [[bigint, bigint]]
      expect([Number(same), Number(total)]).toEqual([3000, 3000])
      // (the rows were reordered: few are where they were)
      const [[moved]] = (await db.rows(
        `SELECT count(*) FILTER (WHERE id <> file_row_number) FROM read_parquet('${out}', file_row_number = true)`,
      )) as [[bigint]]
      expect(Number(moved)).toBeGreaterThan(2500)
    } finally {
      db.close()
    }
  })

  it("index of a file whose other list column is DuckDB's INTEGER[3] with NULL rows: the column is re-paged with each row's own values, and --cluster-rows moves each row with its own list", async () => {
    const dir = tempDir('pqs-list-vectors-other-')
    const path = join(dir, 'duck.parquet')
    const db = await duckdb()
    try {
      // one page a row group's column (DuckDB): re-paged in pages of at most 64 KiB, each row's
      // list read as DuckDB reads it (readListRows; hyparquet read the NULLs as 3 rows each, so the
      // old code copied the chunk as it was rather than write other rows' values)
      await db.run(`COPY (
          SELECT i AS id, (CASE WHEN i % 1000 = 2 THEN NULL ELSE [i, i, i] END)::INTEGER[3] AS t,
            [i::FLOAT + j * 0.001 for j in range(8)]::FLOAT[8] AS embedding
          FROM range(30000) t(i)
        ) TO '${path}' (FORMAT parquet)`)
      const source = await fileSource(path)
      const same = async (out: string) =>
        (await db.rows(
          `SELECT count(*) FILTER (WHERE a.t::INTEGER[] IS NOT DISTINCT FROM b.t::INTEGER[]), count(*) FROM '${out}' a JOIN '${path}' b USING (id)`,
        )) as [[bigint, bigint]]
      const out = join(dir, 'indexed.parquet')
      await buildIndex(source, await fileSink(out, path), { column: 'embedding', nlist: 8 })
      expect((await same(out)).flat().map(Number)).toEqual([30000, 30000])
      const output = await fileSource(out)
      const chunk = (await parquetMetadataAsync(output)).row_groups[0]?.columns.find((c) => c.meta_data?.path_in_schema[0] === 't')
      const at = Number(chunk?.offset_index_offset)
      const pages = readOffsetIndex({ view: new DataView(await output.slice(at, at + Number(chunk?.offset_index_length))), offset: 0 })
      await output.close()
      // (DuckDB's one page of ~360 KiB, copied as it was by the old code)
      expect(pages.page_locations.length).toBeGreaterThan(4)
      expect(Math.max(...pages.page_locations.map((p) => p.compressed_page_size))).toBeLessThanOrEqual(PAGE_LIMIT)
      // a chunk of several blocks (from a disk) is re-paged a block at a time: the same rows (the old
      // code refused: "declares 90000 values but decodes to 89820")
      const blocks = join(dir, 'blocks.parquet')
      const metadata = await parquetMetadataAsync(source)
      const sink = await fileSink(blocks, path)
      const column = describeEmbeddingColumn(metadata, 'embedding')
      await writeIndexed({ source, metadata, column, sink, keyValues: () => [], blockBytes: 32 << 10 })
      await sink.commit()
      expect((await same(blocks)).flat().map(Number)).toEqual([30000, 30000])
      const clustered = join(dir, 'clustered.parquet')
      await buildIndex(source, await fileSink(clustered, path), { column: 'embedding', nlist: 8, clusterRows: true })
      expect((await same(clustered)).flat().map(Number)).toEqual([30000, 30000])
      const [[moved]] = (await db.rows(
        `SELECT count(*) FROM (SELECT id, row_number() OVER () - 1 AS r FROM '${clustered}') WHERE id != r`,
      )) as [[bigint]]
      expect(Number(moved)).toBeGreaterThan(20000)
      await source.close()
    } finally {
      db.close()
    }
  })

  it('a null vector, an empty or ragged one, one holding a null or a non-finite value: listed as invalid with their values and reasons, the rows around them read; readVectors reports each row as before', async () => {
    const dir = tempDir('pqs-list-vectors-bad-')
    const d = 16
    const rand = mulberry32(8)
    const rows: Array<Array<number | null> | null> = Array.from({ length: 400 }, () => Array.from({ length: d }, () => rand() * 2 - 1))
    const bad: Record<number, Array<number | null> | null> = {
      50: null,
      120: [],
      190: Array.from({ length: d - 1 }, () => 0.5),
      260: [...Array.from({ length: d - 1 }, () => 0.5), null],
      330: [...Array.from({ length: d - 1 }, () => 0.5), Number.NaN],
      340: Array.from({ length: d + 2 }, () => 0.25),
    }
    for (const [row, value] of Object.entries(bad)) rows[Number(row)] = value
    const reasons = [
      'vector is null',
      'vector is empty',
      `vector has ${d - 1} values, expected ${d}`,
      `value ${d - 1} is null`,
      `value ${d - 1} is NaN, not a finite float32`,
      `vector has ${d + 2} values, expected ${d}`,
    ]
    const path = join(dir, 'bad.parquet')
    writeFileSync(
      path,
      new Uint8Array(
        parquetWriteBuffer({
          schema: listOf({ name: 'element', type: 'FLOAT' }),
          columnData: [{ name: 'embedding', data: rows }],
          pageSize: 2048,
        }),
      ),
    )
    const source = await fileSource(path)
    const metadata = await parquetMetadataAsync(source)
    const column: EmbeddingColumn = describeEmbeddingColumn(metadata, 'embedding')
    const pages = (await walkFilePages(source, metadata))?.[0]?.['embedding.list.element']
    for (const [i, row] of Object.keys(bad).map(Number).entries()) {
      const read = await readListVectors(source, metadata, column, 0, 0, row - 5, row + 5, d, pages)
      expect(read?.invalid, `row ${row}`).toEqual([{ at: 5, value: bad[row], reason: reasons[i] }])
      const expected = Float32Array.from(rows.slice(row - 5, row + 5).flatMap((v, j) => (j === 5 ? new Array(d).fill(0) : (v as number[]))))
      expect(firstDifference(read?.data ?? new Float32Array(), expected)).toBeUndefined()
    }
    // a search's candidates (readVectorRange): each row's vector, the null one null
    const vectorAt = await readVectorRange(source, metadata, column, 0, 0, 40, 60, d)
    for (let row = 40; row < 60; row++)
      expect(vectorAt(row) === null ? null : Array.from(vectorAt(row) as Float32Array), `row ${row}`).toEqual(
        rows[row] === null ? null : Array.from(Float32Array.from(rows[row] as number[])),
      )
    const read = await readVectors(source, metadata, column, { skipInvalid: true, blockBytes: 4096 })
    expect(read.invalid).toEqual(Object.keys(bad).map((row, i) => ({ row: Number(row), reason: reasons[i] })))
    const good = rows.filter((_, i) => !(i in bad)) as number[][]
    expect(firstDifference(read.data, Float32Array.from(good.flat()))).toBeUndefined()
    // a DOUBLE past float32's range is named as stored (the matrix holds Infinity)
    const doubles = join(dir, 'doubles.parquet')
    const wide = Array.from({ length: 40 }, (_, i) =>
      Array.from({ length: d }, (_, j) => (i === 9 && j === 3 ? 1e39 : i === 9 && j === 5 ? Number.NaN : j / 7)),
    )
    writeFileSync(
      doubles,
      new Uint8Array(
        parquetWriteBuffer({ schema: listOf({ name: 'element', type: 'DOUBLE' }), columnData: [{ name: 'embedding', data: wide }] }),
      ),
    )
    const ds = await fileSource(doubles)
    const dm = await parquetMetadataAsync(ds)
    const wideRead = await readVectors(ds, dm, describeEmbeddingColumn(dm, 'embedding'), { skipInvalid: true })
    expect(wideRead.invalid).toEqual([{ row: 9, reason: 'value 3 is 1e+39, not a finite float32' }])
    expect(wideRead.rowIds.length).toBe(39)
    await ds.close()
    // without skipInvalid, the first is an error naming its row
    await expect(readVectors(source, metadata, column)).rejects.toThrow(/row 50.*vector is null|vector is null.*row 50/)
    await source.close()
  })
})
