import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AsyncBuffer, ColumnMetaData, FileMetaData, SchemaElement, SchemaTree } from 'hyparquet'
import { parquetMetadata, parquetMetadataAsync, parquetReadObjects, parquetSchema, readOffsetIndex } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { ByteWriter } from 'hyparquet-writer'
import { writeDataPageV2 } from 'hyparquet-writer/src/datapage.js'
import { encodeNestedValues } from 'hyparquet-writer/src/dremel.js'
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js'
import { serializeTCompactProtocol } from 'hyparquet-writer/src/thrift.js'
import { unconvert } from 'hyparquet-writer/src/unconvert.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { writeV1SplitList } from '../scripts/pyarrowLike.js'
import { mulberry32 } from '../src/compute/random.js'
import { buildIndex } from '../src/index/build.js'
import { loadIndexHead, locateIndex } from '../src/index/locate.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { describeEmbeddingColumn, ROW_BLOCK_BYTES, readColumnRange, readRow, readVectors, rowBlocks } from '../src/parquet/embedding.js'
import { lz4Compress } from '../src/parquet/lz4.js'
import {
  pageLocationsFromHeaders,
  pageTableOptions,
  walkChunkPages,
  walkedOffsetIndex,
  walkFilePages,
} from '../src/parquet/pageLocations.js'
import { PAGE_LIMIT } from '../src/parquet/repage.js'
import { listPages, writeVectorChunk } from '../src/parquet/vectorChunk.js'
import { writeIndexed } from '../src/parquet/writeIndexed.js'
import {
  clusteredVectors,
  duckdb,
  type Fixture,
  listOfFloat,
  makeFixtures,
  randomWords,
  SHARED,
  tempDir,
  writeListFile,
  writePyarrowLike,
} from './helpers/fixtures.js'

const fast = { coarseIterations: 3, pqIterations: 3, sample: 2000 }
const dir = tempDir()
const fixtures: Fixture[] = []
const datasets = ['glove-twitter-25d-12k', 'sap-fiori-docs-minilm-384', 'sift-128-ngt5k', 'mnist-784-t10k', 'wordnet-fasttext-words-100d']
const haveShared = existsSync(SHARED)

beforeAll(async () => {
  fixtures.push(...(await makeFixtures(dir)))
  if (haveShared) {
    for (const d of datasets) {
      fixtures.push({ name: d, path: join(SHARED, d, 'base.parquet'), column: 'embedding', rows: 0, dim: 0, invalidRows: [] })
    }
  }
}, 60_000)

/**
 * A shared set's first 20 held-out queries: the build tunes on them instead of on 200 rows (the
 * rows are what this test is about, not the tune: wordnet's tune took 7.8 of its 12 s build).
 */
async function tuneQueries(fx: Fixture): Promise<Float32Array[] | undefined> {
  if (!datasets.includes(fx.name)) return undefined
  const source = bytesOf(join(SHARED, fx.name, 'queries.parquet'))
  const metadata = parquetMetadata(await source.slice(0))
  const { data, dim } = await readVectors(source, metadata, describeEmbeddingColumn(metadata, 'embedding'))
  return Array.from({ length: 20 }, (_, i) => data.subarray(i * dim, (i + 1) * dim))
}

async function index(fx: Fixture): Promise<string> {
  const out = join(dir, `${fx.name.replace(/\W+/g, '_')}.indexed.parquet`)
  const source = await fileSource(fx.path)
  try {
    await buildIndex(source, await fileSink(out, fx.path), {
      column: fx.column,
      skipInvalid: true,
      ...fast,
      tuneQueries: await tuneQueries(fx),
    })
  } finally {
    await source.close()
  }
  return out
}

function bytesOf(path: string): AsyncBuffer {
  const b = readFileSync(path)
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)
  return { byteLength: ab.byteLength, slice: (s, e) => ab.slice(s, e) }
}

describe('indexed file round trip', () => {
  it.each([0, 1, 2, 3])(
    'generated fixture %i: DuckDB and hyparquet read the same rows, types and values',
    async (i) => {
      await checkRoundTrip(fixtures[i] as Fixture)
    },
    120_000,
  )

  it.runIf(haveShared).each(datasets)(
    'shared dataset %s round-trips (needs ../shared/data)',
    async (d) => {
      await checkRoundTrip(fixtures.find((f) => f.name === d) as Fixture)
    },
    240_000,
  )
})

async function checkRoundTrip(fx: Fixture) {
  const out = await index(fx)
  const db = await duckdb()
  try {
    const a = `read_parquet('${fx.path}')`
    const b = `read_parquet('${out}')`
    expect(await db.rows(`DESCRIBE SELECT * FROM ${b}`)).toEqual(await db.rows(`DESCRIBE SELECT * FROM ${a}`))
    const [[countA]] = (await db.rows(`SELECT count(*) FROM ${a}`)) as [[bigint]]
    expect(await db.rows(`SELECT count(*) FROM ${b}`)).toEqual([[countA]])
    expect(await db.rows(`SELECT count(*) FROM (SELECT * FROM ${a} EXCEPT ALL SELECT * FROM ${b})`)).toEqual([[0n]])
    expect(await db.rows(`SELECT count(*) FROM (SELECT * FROM ${b} EXCEPT ALL SELECT * FROM ${a})`)).toEqual([[0n]])
    // DuckDB still computes distances on the rewritten column
    const col = `"${fx.column}"`
    const type = String((await db.rows(`SELECT typeof(${col}) FROM ${b} LIMIT 1`))[0]?.[0])
    if (type.startsWith('FLOAT[') || type.startsWith('LIST') || type.endsWith('[]')) {
      const fn = type.endsWith(']') && !type.endsWith('[]') ? 'array_distance' : 'list_distance'
      const [[d]] = (await db.rows(
        `SELECT ${fn}(x.${col}, y.${col}) FROM (SELECT ${col} FROM ${b} WHERE ${col} IS NOT NULL LIMIT 1) x, (SELECT ${col} FROM ${b} WHERE ${col} IS NOT NULL LIMIT 1 OFFSET 1) y`,
      )) as [[number]]
      expect(Number.isFinite(d)).toBe(true)
    }
  } finally {
    db.close()
  }
  // hyparquet: identical rows in identical order
  const [inRows, outRows] = await Promise.all([fx.path, out].map((p) => parquetReadObjects({ file: bytesOf(p), compressors })))
  expect(outRows).toEqual(inRows)
  await checkLayout(out, fx)
}

async function checkLayout(out: string, fx: Fixture) {
  const file = bytesOf(out)
  const metadata = parquetMetadata(await file.slice(0, file.byteLength))
  const column = describeEmbeddingColumn(metadata, fx.column)
  let rows = 0
  for (const group of metadata.row_groups) {
    for (const chunk of group.columns) {
      // every column has an offset index
      expect(chunk.offset_index_offset).toBeDefined()
    }
    const chunk = group.columns[column.leafIndex]
    expect(chunk?.meta_data?.codec).toBe('LZ4_RAW')
    expect(chunk?.meta_data?.statistics).toBeUndefined()
    expect(chunk?.meta_data?.dictionary_page_offset).toBeUndefined()
    const start = Number(chunk?.offset_index_offset)
    const index = readOffsetIndex({ view: new DataView(await file.slice(start, start + Number(chunk?.offset_index_length))), offset: 0 })
    // one page per row, first_row_index counting 0, 1, 2, …
    expect(index.page_locations.map((p) => Number(p.first_row_index))).toEqual(Array.from({ length: Number(group.num_rows) }, (_, i) => i))
    rows += Number(group.num_rows)
  }
  expect(rows).toBe(Number(metadata.num_rows))
  // flat columns come out in pages small enough to fetch one row's value cheaply
  for (const group of metadata.row_groups) {
    for (const chunk of group.columns) {
      const start = Number(chunk.offset_index_offset)
      const oi = readOffsetIndex({ view: new DataView(await file.slice(start, start + Number(chunk.offset_index_length))), offset: 0 })
      const path = chunk.meta_data?.path_in_schema ?? []
      if (path.length === 1)
        expect(Math.max(...oi.page_locations.map((p) => p.compressed_page_size)), path.join('.')).toBeLessThanOrEqual(PAGE_LIMIT)
    }
  }
  const location = locateIndex(metadata, file.byteLength)
  expect(location?.column).toBe(fx.column)
  const head = await loadIndexHead(file, location as NonNullable<typeof location>)
  expect(head.trailer.params.rows).toBe(rows)
  expect(head.trailer.params.indexedRows).toBe(rows - fx.invalidRows.length)
  // blob sits after the last data page and page index, right before the footer
  const footerStart = file.byteLength - 8 - new DataView(await file.slice(file.byteLength - 8, file.byteLength - 4)).getUint32(0, true)
  expect((location?.offset ?? 0) + (location?.length ?? 0)).toBe(footerStart)
}

describe('vector pages: levels of a LIST of numbers built row by row', () => {
  /** The element types a vector list may hold, as writers store them. */
  const elements = {
    FLOAT: { type: 'FLOAT' },
    DOUBLE: { type: 'DOUBLE' },
    FLOAT16: { type: 'FIXED_LEN_BYTE_ARRAY', type_length: 2, logical_type: { type: 'FLOAT16' } },
    INT8: { type: 'INT32', converted_type: 'INT_8' },
    UINT8: { type: 'INT32', logical_type: { type: 'INTEGER', bitWidth: 8, isSigned: false } },
    INT16: { type: 'INT32', logical_type: { type: 'INTEGER', bitWidth: 16, isSigned: true } },
  } as const
  type Element = keyof typeof elements
  const shape = (top: 'OPTIONAL' | 'REQUIRED', leaf: 'OPTIONAL' | 'REQUIRED', type: Element) =>
    parquetSchema({
      schema: [
        { name: 'root', num_children: 1 },
        { name: 'embedding', repetition_type: top, converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', ...elements[type], repetition_type: leaf },
      ],
    } as FileMetaData)

  /** Every optional/required list and element, of every element type: the schema path of each. */
  function* everyShape() {
    for (const top of ['OPTIONAL', 'REQUIRED'] as const)
      for (const leaf of ['OPTIONAL', 'REQUIRED'] as const)
        for (const type of Object.keys(elements) as Element[]) {
          const root = shape(top, leaf, type)
          const tree = [root, root.children[0], root.children[0]?.children[0], root.children[0]?.children[0]?.children[0]] as SchemaTree[]
          yield { top, leaf, type, tree }
        }
  }

  /** The pages' levels end to end, as one chunk. */
  const joined = (tree: SchemaTree[], rows: unknown[]) => {
    const out = listPages(tree, rows)
    if (!out) return undefined
    const pages = out.pages
    expect(pages).toHaveLength(rows.length) // one page a row
    return {
      values: pages.flatMap((p) => [...p.values]),
      definitionLevels: pages.flatMap((p) => [...p.definitionLevels]),
      repetitionLevels: pages.flatMap((p) => [...p.repetitionLevels]),
      maxDefinitionLevel: out.maxDefinitionLevel,
    }
  }

  it('equal what encodeNestedValues gives for every optional/required shape, nulls, empty lists and null elements', () => {
    for (const { top, leaf, tree } of everyShape()) {
      const rows: unknown[] = [[1, 2, 3], [], [0.5], [4, 5, 6, 7]]
      if (top === 'OPTIONAL') rows.push(null, [8])
      if (leaf === 'OPTIONAL') rows.push([9, null, 10])
      expect(joined(tree, rows)).toEqual(encodeNestedValues(tree, rows as never))
      if (top === 'REQUIRED') expect(() => listPages(tree, [null])).toThrow('parquet required value is undefined')
      if (leaf === 'REQUIRED') expect(() => listPages(tree, [[1, null]])).toThrow('parquet required value is undefined')
    }
  })

  it("write the bytes hyparquet-writer's page writer writes, full rows (arrays and Float32Arrays) through their own path", () => {
    for (const { top, leaf, type, tree } of everyShape()) {
      // full rows of two lengths, repeated (their levels are encoded once), 9 and more values (an RLE run)
      // (integers whole and in range: unsigned ones positive; fractions for the floats, 0.1
      // rounded to the nearest half float as the library writer rounds it; -0 keeps its sign)
      const int = type.includes('INT')
      const rows: unknown[] = [
        [1, 2, 3],
        Float32Array.from({ length: 20 }, (_, i) => (int ? i * 5 : i / 7)),
        [],
        int ? [0, 100, 127] : [0.1, 0.2, -0],
        Array.from({ length: 20 }, (_, i) => (type === 'UINT8' ? 255 - i : int ? -i * 6 : -i * 1.5)),
        Float32Array.from([4, 5, 6]),
      ]
      if (top === 'OPTIONAL') rows.push(null, [8])
      if (leaf === 'OPTIONAL') rows.push([9, null, 10])
      const got = new ByteWriter()
      const { locations } = writeVectorChunk(got, tree, rows)
      const want = new ByteWriter()
      const { pages, maxDefinitionLevel } = listPages(tree, rows) as NonNullable<ReturnType<typeof listPages>>
      const column = {
        columnName: 'embedding.list.element',
        element: tree[3]?.element,
        schemaPath: tree.map((n) => n.element),
        codec: 'LZ4_RAW',
        compressors: { LZ4_RAW: lz4Compress },
        stats: false,
      }
      for (const page of pages)
        writeDataPageV2({
          writer: want,
          column: column as never,
          encoding: int ? 'DELTA_BINARY_PACKED' : 'PLAIN', // integers delta-packed
          pageData: { ...page, values: unconvert(column.element as SchemaElement, Array.from(page.values)), maxDefinitionLevel },
        })
      expect(locations, `${top} ${leaf} ${type}`).toHaveLength(rows.length)
      expect(Buffer.from(got.getBytes()).equals(Buffer.from(want.getBytes())), `${top} ${leaf} ${type}`).toBe(true)
    }
  })

  it('leave other shapes to encodeNestedValues', () => {
    const root = parquetSchema({
      schema: [
        { name: 'root', num_children: 1 },
        { name: 'embedding', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 8, repetition_type: 'OPTIONAL' },
      ],
    } as FileMetaData)
    expect(listPages([root, root.children[0] as SchemaTree], [new Uint8Array(8)])).toBeUndefined()
  })
})

describe("page tables: a chunk's pages found by walking its headers", () => {
  it('equal the offset indexes the writer writes for the same bytes; read in windows smaller than a page, the same', async () => {
    const dir = tempDir('pqs-walk-')
    const v = clusteredVectors(3000, 16, 91)
    const rows = Array.from({ length: 3000 }, (_, i) => (i % 97 === 5 ? null : Array.from(v.subarray(i * 16, (i + 1) * 16))))
    const titles = Array.from({ length: 3000 }, (_, i) => (i % 13 === 0 ? null : `title ${i} `.repeat(i % 41)))
    // the same data with and without offset indexes: the writer puts indexes after the row groups, so the pages lie alike
    writeListFile(join(dir, 'with.parquet'), rows, { title: titles }, {}, { pageSize: 4096 })
    writeListFile(join(dir, 'without.parquet'), rows, { title: titles }, {}, { pageSize: 4096, offsetIndex: false })
    const withIndex = await fileSource(join(dir, 'with.parquet'))
    const without = await fileSource(join(dir, 'without.parquet'))
    const mw = await parquetMetadataAsync(withIndex)
    const mo = await parquetMetadataAsync(without)
    const expected: Array<Record<string, unknown>> = []
    for (const group of mw.row_groups) {
      const byPath: Record<string, unknown> = {}
      for (const chunk of group.columns) {
        const at = Number(chunk.offset_index_offset)
        const bytes = await withIndex.slice(at, at + (chunk.offset_index_length ?? 0))
        byPath[chunk.meta_data?.path_in_schema.join('.') ?? ''] = readOffsetIndex({ view: new DataView(bytes), offset: 0 }).page_locations
      }
      expected.push(byPath)
    }
    const table = await walkFilePages(without, mo, 'without.parquet')
    expect(table).toEqual(expected)
    expect(table?.every((g) => (g['embedding.list.element']?.length ?? 0) > 5)).toBe(true) // many pages, rows counted from levels
    // read in windows smaller than a page, and a little larger (headers cut at a window's end)
    for (const [c, path] of ['title', 'embedding.list.element'].entries()) {
      const chunk = mo.row_groups[1]?.columns[c]?.meta_data as NonNullable<
        FileMetaData['row_groups'][number]['columns'][number]['meta_data']
      >
      const start = Number(chunk.dictionary_page_offset ?? chunk.data_page_offset)
      const info = { column: path, sourceOffset: start, codec: chunk.codec, maxRepetitionLevel: c }
      for (const window of [100, 1000, 5000, 9000])
        expect(await walkChunkPages(without, start, Number(chunk.total_compressed_size), info, undefined, window)).toEqual({
          pages: expected[1]?.[path],
          spans: false,
        })
    }
    await withIndex.close()
    await without.close()
  })

  it("a list column's V1 pages (pyarrow, DuckDB) are counted by their rows; one beginning inside a row is read with the page before (a span), never written as an offset index", async () => {
    // an uncompressed DataPage V1 of a list column: its repetition levels (length-prefixed, 1 bit), then filler
    const v1 = (repetition: number[]) => {
      const levels = new ByteWriter()
      writeRleBitPackedHybrid(levels, repetition, 1)
      const body = [...new Uint8Array(new Uint32Array([levels.getBytes().length]).buffer), ...levels.getBytes(), ...new Uint8Array(8)]
      const w = new ByteWriter()
      serializeTCompactProtocol(w, {
        field_1: 0, // DATA_PAGE
        field_2: body.length,
        field_3: body.length,
        field_5: { field_1: repetition.length, field_2: 0, field_3: 3, field_4: 3 },
      })
      return [...w.getBytes(), ...body]
    }
    const info = { column: 'tags.list.element', sourceOffset: 0, codec: 'UNCOMPRESSED' as const, maxRepetitionLevel: 1 }
    // rows [a, b] [c, d, e] [f]: pages of rows 0–1 and 2
    const aligned = Uint8Array.from([...v1([0, 1, 0, 1, 1]), ...v1([0])])
    expect((await pageLocationsFromHeaders(aligned, 0, info))?.map((p) => p.first_row_index)).toEqual([0n, 2n])
    // the second page beginning with the third value of row 1, the third with row 3
    const pages = [v1([0, 1, 0, 1]), v1([1, 0]), v1([0, 1])]
    const split = Uint8Array.from(pages.flat())
    expect(await pageLocationsFromHeaders(split, 0, info)).toBeUndefined()
    const source: AsyncBuffer & { local: boolean } = {
      local: true,
      byteLength: split.length,
      slice: async (a, b) => split.slice(a, b).buffer,
    }
    const [one, two, three] = pages.map((p) => p.length) as [number, number, number]
    expect(await walkChunkPages(source, 0, split.length, info, undefined, 16)).toEqual({
      pages: [
        { offset: 0n, compressed_page_size: one + two, first_row_index: 0n },
        { offset: BigInt(one + two), compressed_page_size: three, first_row_index: 3n },
      ],
      spans: true,
    })
    // pages whose bodies are not what the codec says (not SNAPPY): named, with where the first starts
    await expect(
      pageLocationsFromHeaders(aligned, 0, { ...info, file: 'tags.parquet', codec: 'SNAPPY', sourceOffset: 100 }),
    ).rejects.toThrow(/^tags\.parquet, column "tags\.list\.element", byte 100: unreadable page: its repetition levels do not decode/)
  })

  it('a header longer than the first guess (long statistics) is read again whole, not taken as damaged; a damaged one is named', async () => {
    const page = (rows: number, stat: string) => {
      const body = new Uint8Array(50).fill(7)
      const w = new ByteWriter()
      serializeTCompactProtocol(w, {
        field_1: 0, // DATA_PAGE
        field_2: body.length,
        field_3: body.length,
        field_5: { field_1: rows, field_2: 0, field_3: 3, field_4: 3, field_5: { field_5: stat, field_6: stat } },
      })
      return [...w.getBytes(), ...body]
    }
    const chunk = Uint8Array.from([...page(10, 'x'.repeat(2000)), ...page(5, 'short'), ...page(7, 'y'.repeat(70_000))])
    const source: AsyncBuffer = { byteLength: chunk.length, slice: async (a, b) => chunk.slice(a, b).buffer }
    const info = { file: 'f.parquet', column: 'title', sourceOffset: 1000, codec: 'UNCOMPRESSED' as const, maxRepetitionLevel: 0 }
    const second = page(10, 'x'.repeat(2000)).length
    const third = second + page(5, 'short').length
    for (const window of [100, 3000, 1 << 22])
      expect((await walkChunkPages(source, 0, chunk.length, info, undefined, window)).pages).toEqual([
        { offset: 0n, compressed_page_size: second, first_row_index: 0n },
        { offset: BigInt(second), compressed_page_size: third - second, first_row_index: 10n },
        { offset: BigInt(third), compressed_page_size: chunk.length - third, first_row_index: 15n },
      ])
    const damaged = chunk.slice()
    damaged.fill(0xff, second, second + 40)
    const bad: AsyncBuffer = { byteLength: damaged.length, slice: async (a, b) => damaged.slice(a, b).buffer }
    await expect(walkChunkPages(bad, 0, damaged.length, info, undefined, 100)).rejects.toThrow(
      new RegExp(`^f\\.parquet, column "title", byte ${1000 + second}: unreadable page header`),
    )
  })

  it('a row group over ROW_BLOCK_BYTES (pyarrow writes a million rows to one) is read and rewritten a block at a time, its pages found first: no read of the whole chunk, the same vectors', async () => {
    const dir = tempDir('pqs-blocks-')
    const n = 20_000
    const dim = 256 // 20 MiB of float32 in one row group, pages of 1 MiB, no offset index
    const v = clusteredVectors(n, dim, 93)
    const rows = Array.from({ length: n }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim)))
    const input = join(dir, 'one-group.parquet')
    writeListFile(input, rows, {}, {}, { offsetIndex: false, rowGroupSize: n })
    const source = await fileSource(input)
    const metadata = await parquetMetadataAsync(source)
    const chunk = Number(metadata.row_groups[0]?.columns[0]?.meta_data?.total_compressed_size)
    expect(metadata.row_groups.length).toBe(1)
    expect(chunk).toBeGreaterThan(ROW_BLOCK_BYTES)
    let longest = 0
    const counting: AsyncBuffer & { local: boolean } = {
      local: true, // (its pages are walked from a disk, not over HTTP: a second download)
      byteLength: source.byteLength,
      slice: (a, b) => {
        longest = Math.max(longest, (b ?? source.byteLength) - a)
        return source.slice(a, b)
      },
    }
    const column = describeEmbeddingColumn(metadata, 'embedding')
    const blocks = await rowBlocks(counting, metadata, column.leafIndex, 0, 0)
    expect(blocks.length).toBeGreaterThan(1)
    expect(blocks.flat()).toEqual(blocks.flatMap(([a, b], i) => (i ? [a, b] : [0, b])))
    const read = await readVectors(counting, metadata, column)
    // (bytes compared: toEqual walks 5 M floats one by one, for seconds)
    const bytes = (f: Float32Array) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)
    expect(bytes(read.data).equals(bytes(v))).toBe(true)
    // each block its pages (a block's bytes and the pages cut at its ends; 4 MiB windows walking them), never the chunk
    const bound = Math.min(chunk - 1, ROW_BLOCK_BYTES + (2 << 20))
    expect(longest).toBeLessThanOrEqual(bound)
    // the rewrite: the same vectors, one page each, read a block at a time too
    longest = 0
    const out = join(dir, 'out.parquet')
    // (the file index writes, without the index: the model's build reads through forEachVectorBlock as above)
    const sink = await fileSink(out, input)
    await writeIndexed({ source: counting, metadata, column, sink, keyValues: () => [] })
    await sink.commit()
    expect(longest).toBeLessThanOrEqual(bound)
    const written = await fileSource(out)
    const wm = await parquetMetadataAsync(written)
    expect(bytes((await readVectors(written, wm, describeEmbeddingColumn(wm, 'embedding'))).data).equals(bytes(v))).toBe(true)
    await written.close()
    await source.close()
  }, 60_000)

  it("older pyarrow's V1 list pages, cut inside rows, are read a block at a time by the spans of pages that begin rows: from a disk (walked) and from a remote source (streamed once, front to back); the rewrite the same", async () => {
    const dir = tempDir('pqs-v1-split-')
    const n = 6000
    const dim = 384 // 9.2 MB; pages of 65,536 values: every third begins a row
    const v = clusteredVectors(n, dim, 97)
    const input = join(dir, 'v1-split.parquet')
    writeV1SplitList(input, v, dim, { pageValues: 65_536 })
    const file = await fileSource(input)
    const chunk = Number((await parquetMetadataAsync(file)).row_groups[0]?.columns[0]?.meta_data?.total_compressed_size)
    const bytes = (f: Float32Array) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)
    const blockBytes = 1 << 20
    for (const local of [true, false]) {
      let longest = 0
      let fetched = 0
      const counting: AsyncBuffer & { local: boolean } = {
        local,
        byteLength: file.byteLength,
        slice: (a, b) => {
          longest = Math.max(longest, (b ?? file.byteLength) - a)
          fetched += (b ?? file.byteLength) - a
          return file.slice(a, b)
        },
      }
      const metadata = await parquetMetadataAsync(counting)
      const column = describeEmbeddingColumn(metadata, 'embedding')
      fetched = 0
      const read = await readVectors(counting, metadata, column, { blockBytes })
      expect(bytes(read.data).equals(bytes(v)), local ? 'local' : 'remote').toBe(true)
      if (local) {
        // the walk's 4 MiB windows, then each block's spans: never the 9 MB chunk at once
        expect(longest).toBeLessThanOrEqual(4 << 20)
        // one row (--query-row, "more like this row"), through a fresh footer: its pages walked first, then its span
        longest = 0
        const [row] = await readColumnRange(counting, await parquetMetadataAsync(counting), 'embedding', 5000, 5001)
        expect(row).toEqual(Array.from(v.subarray(5000 * dim, 5001 * dim)))
        expect(longest).toBeLessThanOrEqual(4 << 20)
      } else {
        // a window at a time, the chunk once
        expect(longest).toBeLessThanOrEqual(blockBytes)
        expect(fetched).toBe(chunk)
      }
      // the spans are known now: a later read through this footer fetches a block's own (a sidecar's candidates)
      const table = pageTableOptions(metadata).pageLocationsByGroup?.[0]?.['embedding.list.element'] ?? []
      expect(table.length).toBeGreaterThan(10)
      expect(table.every((p, i) => i === 0 || p.first_row_index > (table[i - 1]?.first_row_index ?? 0n))).toBe(true)
      expect(walkedOffsetIndex(metadata, 0, 'embedding.list.element')).toBeUndefined() // spans: never an offset index
      // the rewrite (a fresh footer: nothing known), its vector chunk read the same way
      longest = 0
      fetched = 0
      const out = join(dir, `out-${local}.parquet`)
      const sink = await fileSink(out, input)
      const fresh = await parquetMetadataAsync(counting)
      await writeIndexed({ source: counting, metadata: fresh, column, sink, keyValues: () => [], blockBytes })
      await sink.commit()
      expect(longest).toBeLessThanOrEqual(local ? 4 << 20 : blockBytes)
      const written = await fileSource(out)
      const wm = await parquetMetadataAsync(written)
      expect(bytes((await readVectors(written, wm, describeEmbeddingColumn(wm, 'embedding'))).data).equals(bytes(v))).toBe(true)
      await written.close()
    }
    await file.close()
  }, 60_000)

  it('one row of a remote chunk with no offset index (--query-row over HTTP) streams the chunk up to its block: not read, nor decoded, whole', async () => {
    const dir = tempDir('pqs-row-')
    const n = 6000
    const dim = 384 // 9.2 MB in one chunk
    const v = clusteredVectors(n, dim, 96)
    const input = join(dir, 'v1-split.parquet')
    writeV1SplitList(input, v, dim, { pageValues: 65_536 })
    const file = await fileSource(input)
    let fetched = 0
    let longest = 0
    const remote: AsyncBuffer = {
      byteLength: file.byteLength,
      slice: (a, b) => {
        fetched += (b ?? file.byteLength) - a
        longest = Math.max(longest, (b ?? file.byteLength) - a)
        return file.slice(a, b)
      },
    }
    const metadata = await parquetMetadataAsync(remote)
    for (const [row, most] of [
      [5, 4 << 20],
      [4999, 10 << 20],
    ] as const) {
      fetched = 0
      longest = 0
      const value = await readRow(remote, metadata, 'embedding', 0, row, { blockBytes: 1 << 20 })
      expect(Float32Array.from(value as number[])).toEqual(v.subarray(row * dim, (row + 1) * dim))
      // a window at a time, up to the row's block (and the pages past its end, a window asked for ahead): of 9.2 MB
      expect(longest).toBeLessThanOrEqual(1 << 20)
      expect(fetched, `row ${row}`).toBeLessThanOrEqual(most)
    }
    await file.close()
  })

  it('a remote file with no offset index is streamed a block at a time, its dictionary page kept for every block: the chunk downloaded once, never in one read', async () => {
    const dir = tempDir('pqs-stream-')
    const n = 8000
    const dim = 128
    // values on a grid of 1/4 (off zero: the writer's dictionary takes -0 for 0): few distinct, so the column is dictionary-encoded
    const v = clusteredVectors(n, dim, 98).map((x) => Math.round(x * 4) / 4 + 0.125)
    const input = join(dir, 'dictionary.parquet')
    const rows = Array.from({ length: n }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim)))
    writeListFile(input, rows, {}, {}, { offsetIndex: false, rowGroupSize: n, pageSize: 32 << 10 })
    const file = await fileSource(input)
    let longest = 0
    let fetched = 0
    const remote: AsyncBuffer = {
      byteLength: file.byteLength,
      slice: (a, b) => {
        longest = Math.max(longest, (b ?? file.byteLength) - a)
        fetched += (b ?? file.byteLength) - a
        return file.slice(a, b)
      },
    }
    const metadata = await parquetMetadataAsync(remote)
    const m = metadata.row_groups[0]?.columns[0]?.meta_data
    expect(m?.dictionary_page_offset).toBeDefined()
    expect(m?.encodings).toContain('RLE_DICTIONARY')
    const column = describeEmbeddingColumn(metadata, 'embedding')
    const blockBytes = 64 << 10
    expect(Number(m?.total_uncompressed_size)).toBeGreaterThan(4 * blockBytes) // several blocks
    fetched = 0
    longest = 0
    const read = await readVectors(remote, metadata, column, { blockBytes })
    expect(Buffer.from(read.data.buffer).equals(Buffer.from(v.buffer))).toBe(true)
    expect(fetched).toBe(Number(m?.total_compressed_size))
    expect(longest).toBeLessThanOrEqual(blockBytes)
    // cancelled after its first block: stopped there, the window already asked for left unread
    const controller = new AbortController()
    const again = await parquetMetadataAsync(remote) // (a fresh footer: its pages not known)
    fetched = 0
    const cancelled = readVectors(remote, again, column, {
      blockBytes,
      signal: controller.signal,
      onProgress: () => controller.abort(),
    })
    await expect(cancelled).rejects.toMatchObject({ name: 'AbortError' })
    expect(fetched).toBeLessThanOrEqual(4 * blockBytes)
    await file.close()
  }, 60_000)

  it("a row group's column in one page (DuckDB's layout) is decoded once, not once for every block: blocks end where pages begin, from a disk and streamed", async () => {
    const dir = tempDir('pqs-one-page-')
    const n = 20_000
    const dim = 128 // 10 MB in one page, blocks of 1 MiB asked for
    const v = clusteredVectors(n, dim, 99)
    const input = join(dir, 'one-page.parquet')
    writeListFile(
      input,
      Array.from({ length: n }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim))),
      {},
      {},
      { offsetIndex: false, rowGroupSize: n, pageSize: 1 << 30 },
    )
    const file = await fileSource(input)
    const bytes = (f: Float32Array) => Buffer.from(f.buffer, f.byteOffset, f.byteLength)
    for (const local of [true, false]) {
      const reads: number[] = []
      const counting: AsyncBuffer & { local: boolean } = {
        local,
        byteLength: file.byteLength,
        slice: (a, b) => {
          reads.push((b ?? file.byteLength) - a)
          return file.slice(a, b)
        },
      }
      const metadata = await parquetMetadataAsync(counting)
      const chunk = Number(metadata.row_groups[0]?.columns[0]?.meta_data?.total_compressed_size)
      reads.length = 0
      const read = await readVectors(counting, metadata, describeEmbeddingColumn(metadata, 'embedding'), { blockBytes: 1 << 20 })
      expect(bytes(read.data).equals(bytes(v)), local ? 'local' : 'remote').toBe(true)
      const total = reads.reduce((t, r) => t + r, 0)
      // from a disk: the walk's first window, then the page once; streamed: the chunk once (it was 10 times)
      expect(total, local ? 'local' : 'remote').toBeLessThanOrEqual(chunk + (4 << 20))
    }
    await file.close()
  }, 60_000)

  it('large chunks of a local file are copied and re-paged a block at a time: the same rows as DuckDB reads them, the same statistics, small pages, no read of a whole chunk', async () => {
    const dir = tempDir('pqs-blocks-copy-')
    const n = 10_000
    const rand = mulberry32(95)
    // ~1 KB of random words a row (10 MB of text, pages of 1 MiB: re-paged); a list of floats that
    // is not the embedding (5 MB: copied as it is); one row group, no offset index
    const body = Array.from({ length: n }, (_, i) => (i % 500 === 7 ? null : `${i}: ${randomWords(150, rand)}`))
    const other = Array.from({ length: n }, () => Array.from({ length: 128 }, () => rand()))
    const input = join(dir, 'big-chunks.parquet')
    writePyarrowLike(
      input,
      [
        { name: 'root', num_children: 3 },
        { name: 'body', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        ...listOfFloat('other'),
        ...listOfFloat('embedding'),
      ],
      [
        { name: 'body', data: body },
        { name: 'other', data: other },
        { name: 'embedding', data: Array.from({ length: n }, (_, i) => [i, 1, 2, 3]) },
      ],
    )
    const source = await fileSource(input)
    const metadata = await parquetMetadataAsync(source)
    const column = describeEmbeddingColumn(metadata, 'embedding')
    const sizes = metadata.row_groups[0]?.columns.map((c) => Number(c.meta_data?.total_compressed_size)) ?? []
    let longest = 0
    const counting: AsyncBuffer & { local: boolean } = {
      local: true,
      byteLength: source.byteLength,
      slice: (a, b) => {
        longest = Math.max(longest, (b ?? source.byteLength) - a)
        return source.slice(a, b)
      },
    }
    const write = async (name: string, blockBytes?: number) => {
      const sink = await fileSink(join(dir, name), input)
      // (a fresh footer each time: the first write's walked pages are not the second's)
      await writeIndexed({ source: counting, metadata: await parquetMetadataAsync(source), column, sink, keyValues: () => [], blockBytes })
      await sink.commit()
      return join(dir, name)
    }
    const whole = await write('whole.parquet')
    expect(longest).toBeGreaterThanOrEqual(sizes[0] as number) // chunks under the default block: each read at once
    longest = 0
    const blocks = await write('blocks.parquet', 256 << 10)
    // no chunk read whole: blocks of rows, copies of 256 KiB, the walk's windows of 4 MiB
    expect(Math.min(sizes[0] as number, sizes[1] as number)).toBeGreaterThan(4 << 20)
    expect(longest).toBeLessThanOrEqual(4 << 20)
    const db = await duckdb()
    try {
      for (const out of [whole, blocks]) {
        const [[missing, extra]] = (await db.rows(
          `SELECT (SELECT count(*) FROM (SELECT * FROM '${input}' EXCEPT ALL SELECT body, other, embedding FROM '${out}')), (SELECT count(*) FROM (SELECT body, other, embedding FROM '${out}' EXCEPT ALL SELECT * FROM '${input}'))`,
        )) as [[bigint, bigint]]
        expect([Number(missing), Number(extra)]).toEqual([0, 0])
      }
    } finally {
      db.close()
    }
    const chunksOf = async (path: string) => {
      const f = await fileSource(path)
      const m = await parquetMetadataAsync(f)
      const pages = async (c: number) => {
        const chunk = m.row_groups[0]?.columns[c]
        const at = Number(chunk?.offset_index_offset)
        const bytes = await f.slice(at, at + (chunk?.offset_index_length ?? 0))
        return readOffsetIndex({ view: new DataView(bytes), offset: 0 }).page_locations
      }
      const out = { meta: (m.row_groups[0]?.columns ?? []).map((c) => c.meta_data), body: await pages(0), other: await pages(1) }
      await f.close()
      return out
    }
    const a = await chunksOf(whole)
    const b = await chunksOf(blocks)
    // the text re-paged in small pages both ways, under the same bounds; the floats copied page for page
    for (const x of [a, b]) expect(Math.max(...x.body.map((p) => p.compressed_page_size))).toBeLessThanOrEqual(PAGE_LIMIT)
    const bounds = (m: ColumnMetaData | undefined) => [m?.statistics?.min_value, m?.statistics?.max_value, m?.statistics?.null_count]
    expect(bounds(b.meta[0])).toEqual(bounds(a.meta[0]))
    expect(bounds(b.meta[0])[2]).toBe(20n)
    expect(b.body.map((p) => p.first_row_index)).toEqual([...b.body.map((p) => p.first_row_index)].sort((x, y) => Number(x - y)))
    expect(b.other.map((p) => [p.compressed_page_size, p.first_row_index])).toEqual(
      a.other.map((p) => [p.compressed_page_size, p.first_row_index]),
    )
    await source.close()
  }, 60_000)

  it('an added vector column (embed) is asked for and written 16,384 rows at a time, not a row group at once', async () => {
    const dir = tempDir('pqs-added-blocks-')
    const n = 40_000
    const input = join(dir, 'one-group.parquet')
    writeListFile(
      input,
      Array.from({ length: n }, () => [1, 2]),
      { title: Array.from({ length: n }, (_, i) => `t${i}`) },
      {},
      { rowGroupSize: n },
    )
    const source = await fileSource(input)
    const metadata = await parquetMetadataAsync(source)
    expect(metadata.row_groups.length).toBe(1)
    const asked: Array<[number, number]> = []
    const out = join(dir, 'out.parquet')
    const sink = await fileSink(out, input)
    await writeIndexed({
      source,
      metadata,
      sink,
      keyValues: () => [],
      added: {
        name: 'added',
        values: async (start, end) => {
          asked.push([start, end])
          return Array.from({ length: end - start }, (_, i) => ((start + i) % 1000 === 3 ? null : Float32Array.of(start + i, -(start + i))))
        },
      },
    })
    await sink.commit()
    expect(asked).toEqual([
      [0, 16_384],
      [16_384, 32_768],
      [32_768, 40_000],
    ])
    const written = await fileSource(out)
    const wm = await parquetMetadataAsync(written)
    const vectors = await readVectors(written, wm, describeEmbeddingColumn(wm, 'added'), { skipInvalid: true })
    expect(vectors.invalid.map((r) => r.row)).toEqual(Array.from({ length: 40 }, (_, i) => i * 1000 + 3))
    expect(Array.from(vectors.rowIds).every((row, i) => vectors.data[2 * i] === row && vectors.data[2 * i + 1] === -row)).toBe(true)
    await written.close()
    await source.close()
  })
})
