import { copyFileSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parquetMetadata } from 'hyparquet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { vectorPages } from '../src/bench/gpuBench.js'
import { type RangeServer, serveFile } from '../src/cli/rangeServer.js'
import { sharedFloats } from '../src/compute/pool.js'
import { mulberry32 } from '../src/compute/random.js'
import { ParquetSeekError } from '../src/errors.js'
import { buildIndex } from '../src/index/build.js'
import { CachedSource } from '../src/io/cache.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { CountingSource, fromBytes } from '../src/io/source.js'
import { readMetadata } from '../src/parquet/footer.js'
import { jsonRow, shownColumnsOf, shownDistance } from '../src/parquet/json.js'
import { parseTimeOfDay, timeOfDay } from '../src/parquet/time.js'
import { searchExact } from '../src/query/memory.js'
import { readRowSpan } from '../src/search/columns.js'
import { openIndex } from '../src/search/engine.js'
import { flatSearch } from '../src/search/flat.js'
import { decodePages, PAGES_A_THREAD, PageDecoders, type PageWorkers, type SpawnWorker } from '../src/search/pageDecoding.js'
import { clusteredVectors, duckdb, firstDifference, headOnlyTail, randomWords, tempDir, writeListFile } from './helpers/fixtures.js'

const dir = tempDir('pqs-search-')
const rows = 4000
const dim = 24
const all = clusteredVectors(rows + 60, dim, 8, 40)
const data = all.slice(0, rows * dim)
// rows 3998 and 3999 repeat rows 10 and 11 exactly: ties must resolve to the lower row
data.set(data.subarray(10 * dim, 12 * dim), 3998 * dim)
const queries = Array.from({ length: 50 }, (_, q) => all.slice((rows + q) * dim, (rows + q + 1) * dim))
const rowIds = Uint32Array.from({ length: rows }, (_, i) => i)
const input = join(dir, 'items.parquet')
const indexed = join(dir, 'items.indexed.parquet')
let server: RangeServer
/** Opening with this tailBytes leaves the lists and pages on the server (the file is smaller than the default tail). */
let tail: number

beforeAll(async () => {
  writeListFile(
    input,
    Array.from({ length: rows }, (_, i) => Array.from(data.subarray(i * dim, (i + 1) * dim))),
    { title: Array.from({ length: rows }, (_, i) => `item ${i}`) },
  )
  const source = await fileSource(input)
  await buildIndex(source, await fileSink(indexed, input), { column: 'embedding', nlist: 40 })
  await source.close()
  server = await serveFile(indexed)
  tail = await headOnlyTail(indexed)
}, 60_000)
afterAll(() => server?.close())

function recall(found: number[][], k: number) {
  let hits = 0
  found.forEach((rowsFound, q) => {
    const want = new Set(searchExact('l2', data, rowIds, queries[q] as Float32Array, k).map((h) => h.row))
    hits += rowsFound.filter((r) => want.has(r)).length
  })
  return hits / (found.length * k)
}

describe('search over HTTP range requests', () => {
  it('finds the exact neighbours of most queries, with exact distances and requested columns', async () => {
    const index = await openIndex(server.url)
    const found: number[][] = []
    for (const q of queries) {
      const { results } = await index.search(q, { k: 10, columns: ['title'] })
      expect(results).toHaveLength(10)
      for (const r of results) {
        expect(r.values.title).toBe(`item ${r.row}`)
        const v = data.subarray(r.row * dim, (r.row + 1) * dim)
        expect(r.distance).toBeCloseTo(Math.hypot(...v.map((x, j) => x - (q[j] as number))), 4)
      }
      expect(results.map((r) => r.distance)).toEqual([...results.map((r) => r.distance)].sort((a, b) => a - b))
      found.push(results.map((r) => r.row))
    }
    expect(recall(found, 10)).toBeGreaterThanOrEqual(0.95)
  })

  it('cold: at most 4 dependent round trips from nothing; warm: at most 3', async () => {
    const before = server.requests
    const index = await openIndex(server.url, { tailBytes: tail })
    const cold = await index.search(queries[0] as Float32Array, { k: 10, columns: ['title'] })
    expect(index.opened.open.roundTrips + cold.stats.roundTrips).toBeLessThanOrEqual(4)
    index.clearCache()
    const warm = await index.search(queries[1] as Float32Array, { k: 10, columns: ['title'] })
    expect(warm.stats.roundTrips).toBeLessThanOrEqual(3)
    expect(warm.stats.requests).toBeLessThanOrEqual(3) // lists, pages, projection: one multi-range request each
    expect(server.requests - before).toBe(index.opened.open.requests + cold.stats.requests + warm.stats.requests)
    index.clearCache()
    const vectorsOnly = await index.search(queries[2] as Float32Array, { k: 10 })
    expect(vectorsOnly.stats.roundTrips).toBe(2)
    expect(vectorsOnly.stats.bytes).toBeLessThan(readFileSync(indexed).length / 10)
  })

  it('an S3-style host: the open asks, beside its tail read, whether multi-range works, so the first search sends none and costs no more than if told', async () => {
    const multi: string[] = []
    let arrived = 0
    const s3 = await serveFile(indexed, {
      host: 's3',
      fault: (req) => {
        arrived++
        if (req.headers.range?.includes(',')) multi.push(req.headers.range)
        return false
      },
    })
    try {
      const index = await openIndex(s3.url, { tailBytes: tail })
      expect(index.opened.open).toMatchObject({ requests: 2, roundTrips: 1 })
      expect(multi).toEqual(['bytes=0-0,-1']) // answered 200 (the whole object), cancelled
      const before = arrived
      const cold = await index.search(queries[0] as Float32Array, { k: 10, columns: ['title'] })
      expect(multi).toHaveLength(1) // the search asked for single ranges from the start
      // and counted only requests the host got (a multi-range call that the source declines is none)
      expect(cold.stats.requests).toBe(arrived - before)
      expect(cold.stats.requests).toBeGreaterThan(3) // one a range: this host has no multipart
      const nginx = await openIndex(server.url, { tailBytes: tail })
      const same = await nginx.search(queries[0] as Float32Array, { k: 10, columns: ['title'] })
      expect(cold.results).toEqual(same.results)
      // the first search costs what it costs when the open is told the host has no multi-range: no refused request
      const told = await openIndex(s3.url, { tailBytes: tail, http: { multiRange: false } })
      const known = await told.search(queries[0] as Float32Array, { k: 10, columns: ['title'] })
      expect(cold.stats).toMatchObject({ requests: known.stats.requests, roundTrips: known.stats.roundTrips, bytes: known.stats.bytes })
    } finally {
      await s3.close()
    }
  })

  it('a file inside the tail read at open: searches and projection ask the host for nothing more, same answers', async () => {
    expect(statSync(indexed).size).toBeLessThan(1 << 20)
    const whole = await openIndex(server.url)
    // one round trip: the tail read, and beside it the question whether the host answers multi-range
    expect(whole.opened.open).toMatchObject({ requests: 2, roundTrips: 1 })
    const remote = await openIndex(server.url, { tailBytes: tail })
    for (const q of queries.slice(0, 5)) {
      const before = server.requests
      const a = await whole.search(q, { k: 10, columns: ['title'] })
      expect(server.requests - before).toBe(0)
      expect(a.stats.requests).toBe(0)
      expect(a.stats.bytes).toBe(0)
      remote.clearCache()
      const b = await remote.search(q, { k: 10, columns: ['title'] })
      expect(b.stats.requests).toBeGreaterThan(0)
      expect(a.results).toEqual(b.results)
    }
  })

  it('a batch shares list fetches and equals one-by-one search', async () => {
    const index = await openIndex(server.url, { tailBytes: tail })
    const batch = await index.searchBatch(queries.slice(0, 8), { k: 5 })
    const single = await openIndex(server.url, { tailBytes: tail })
    let singleRequests = 0
    for (const [i, q] of queries.slice(0, 8).entries()) {
      single.clearCache()
      const r = await single.search(q, { k: 5 })
      singleRequests += r.stats.requests
      expect(batch[i]?.results.map((h) => h.row)).toEqual(r.results.map((h) => h.row))
    }
    expect(batch[0]?.stats.requests).toBeLessThan(singleRequests)
  })

  it("a search re-ranking rows an earlier one read takes their vectors from memory: the same query again fetches and decodes nothing, one for more results only its new rows; the answers are a fresh index's", async () => {
    const index = await openIndex(server.url, { tailBytes: tail })
    const q = queries[3] as Float32Array
    const first = await index.search(q, { k: 10, columns: ['title'] })
    expect(first.stats.pagesDecoded).toBe(first.stats.candidates)
    const again = await index.search(q, { k: 10, columns: ['title'] })
    expect(again.results).toEqual(first.results)
    expect(again.stats).toMatchObject({ bytes: 0, requests: 0, pagesDecoded: 0, candidates: first.stats.candidates })
    // twice the results: twice the candidates, those of the first search among them
    const more = await index.search(q, { k: 20, columns: ['title'] })
    const fresh = await (await openIndex(server.url, { tailBytes: tail })).search(q, { k: 20, columns: ['title'] })
    expect(more.results).toEqual(fresh.results)
    expect(more.stats.pagesDecoded).toBe(more.stats.candidates - first.stats.candidates)
    expect(more.stats.bytes).toBeLessThan(fresh.stats.bytes)
    // forgotten with the lists
    index.clearCache()
    const cold = await index.search(q, { k: 10, columns: ['title'] })
    expect(cold.results).toEqual(first.results)
    expect(cold.stats.pagesDecoded).toBe(cold.stats.candidates)
    // a cache too small for a query's vectors keeps none of them (and reads as before)
    const small = await openIndex(server.url, { tailBytes: tail, cacheBytes: 4096 })
    for (let i = 0; i < 2; i++) {
      const r = await small.search(q, { k: 10, columns: ['title'] })
      expect(r.results).toEqual(first.results)
      expect(r.stats.pagesDecoded).toBe(r.stats.candidates)
    }
  })

  it('breaks distance ties toward the lower row', async () => {
    const index = await openIndex(server.url)
    const q = data.slice(10 * dim, 11 * dim)
    // rows 10 and 3998 hold the same vector: both at distance 0, the lower row first
    const { results } = await index.search(q, { k: 3, nprobe: 40, refine: 50 })
    expect(results.slice(0, 2)).toEqual([
      { row: 10, distance: 0, values: {} },
      { row: 3998, distance: 0, values: {} },
    ])
    expect(results[2]?.distance).toBeGreaterThan(0)
  })

  it('reads a stored row vector back and rejects wrong queries clearly', async () => {
    const index = await openIndex(server.url)
    expect(Array.from(await index.vectorOf(123))).toEqual(Array.from(data.subarray(123 * dim, 124 * dim)))
    await expect(index.search([1, 2, 3])).rejects.toThrow(/query 0 has 3 values; the index is 24-d/)
    await expect(index.search(new Array(dim).fill(Number.NaN))).rejects.toThrow(/query 0: value 0 is not finite$/)
    // finite as a number, past float32's range: Infinity as searched
    const huge = Array.from(queries[0] as Float32Array)
    huge[5] = 1e39
    await expect(index.search(huge)).rejects.toThrow(/query 0: value 5 is 1e\+39, not a finite float32/)
    // every value a finite float32, the query too long for finite distances
    huge[5] = 1e19
    await expect(index.search(huge)).rejects.toThrow(/query 0: its squared length 1\.00e\+38 is past 8\.51e\+37/)
    await expect(index.search(queries[0] as Float32Array, { columns: ['nope'] })).rejects.toThrow(/column "nope": no such column/)
    // from JavaScript: a string was an empty Float32Array (every distance 0), a number that many zeros;
    // a string is a text query now, and this file names no model to embed it with
    const js = index as unknown as { search(q: unknown, o?: object): Promise<unknown>; searchBatch(q: unknown): Promise<unknown> }
    await expect(js.search('abc')).rejects.toThrow(/items\.indexed\.parquet: the file does not name the model that made its vectors/)
    await expect(js.searchBatch('abc')).rejects.toThrow(/searchBatch takes an array of query vectors/)
    await expect(js.search(null)).rejects.toThrow(/query 0 is not a vector \(an array of numbers\): it is null/)
    await expect(js.searchBatch([queries[0], 7])).rejects.toThrow(/query 1 is not a vector \(an array of numbers\): it is number/)
    await expect(js.searchBatch(queries[0])).rejects.toThrow(
      /searchBatch takes an array of query vectors, got one vector \(search takes one\)/,
    )
    // options as given, not as clamped: refine -1 searched as 1, nprobe 2.5 on a 1-list index as 1
    await expect(js.search(queries[0], { refine: -1 })).rejects.toThrow(/refine must be an integer from 1 to 1000, got -1/)
    await expect(js.search(queries[0], { nprobe: 2.5 })).rejects.toThrow(/nprobe must be a positive integer, got 2\.5/)
  })

  it('cancels with an AbortSignal', async () => {
    const index = await openIndex(server.url)
    const controller = new AbortController()
    controller.abort()
    await expect(index.search(queries[0] as Float32Array, { signal: controller.signal })).rejects.toThrow(/cancelled/)
  })

  it('flat (exact) search over the non-indexed input matches brute force', async () => {
    const bytes = readFileSync(input)
    const source = fromBytes(new Uint8Array(bytes), 'items.parquet')
    const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
    const [hits] = await flatSearch(source, metadata, [queries[3] as Float32Array], { column: 'embedding', metric: 'l2', k: 7 })
    expect(hits).toEqual(searchExact('l2', data, rowIds, queries[3] as Float32Array, 7))
  })

  it('flat (exact) search refuses queries that cannot match, naming why; a few ragged rows are only skipped', async () => {
    const dir = tempDir('pqs-flat-')
    const rows: Array<number[] | null> = Array.from({ length: 50 }, (_, r) => Array.from({ length: 6 }, (_, j) => r + j / 10))
    rows[0] = [1, 2, 3] // ragged, ahead of the rest
    rows[1] = null
    const path = join(dir, 'ragged.parquet')
    writeListFile(path, rows)
    const bytes = readFileSync(path)
    const source = fromBytes(new Uint8Array(bytes), 'ragged.parquet')
    const metadata = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
    const search = (qs: Float32Array[]) => flatSearch(source, metadata, qs, { column: 'embedding', metric: 'l2', k: 2 })
    const q = Float32Array.from(rows[7] as number[])
    // the ragged first row skipped, the rest searched: row 7 itself first
    expect((await search([q]))[0]?.map((h) => h.row)).toEqual([7, 6])
    // a query of another length than the column's vectors: every row would be skipped
    await expect(search([new Float32Array(4)])).rejects.toThrow(
      /ragged\.parquet: the queries have 4 values; column "embedding" holds vectors of 6 \(row 2\)/,
    )
    await expect(search([q, new Float32Array(5)])).rejects.toThrow(/query 1 has 5 values; query 0 has 6/)
    await expect(search([q, Float32Array.of(0, 0, Number.POSITIVE_INFINITY, 0, 0, 0)])).rejects.toThrow(/query 1: value 2 is not finite/)
    // no row searchable at all: an error naming the first, not an empty answer
    const unusable = join(dir, 'unusable.parquet')
    writeListFile(unusable, [null, [1e20, 0, 0, 0, 0, 0], null])
    const bad = readFileSync(unusable)
    const badMeta = parquetMetadata(bad.buffer.slice(bad.byteOffset, bad.byteOffset + bad.byteLength))
    await expect(
      flatSearch(fromBytes(new Uint8Array(bad), 'unusable.parquet'), badMeta, [q], { column: 'embedding', metric: 'l2', k: 2 }),
    ).rejects.toThrow(
      /unusable\.parquet, column "embedding": no row of 3 holds a vector that can be searched \(first: row 0: vector is null\)/,
    )
  })

  it('refuses a Parquet file without an index, naming the file', async () => {
    const plain = await serveFile(input)
    try {
      await expect(openIndex(plain.url)).rejects.toThrow(/items\.parquet: this Parquet file has no ParquetSeek index/)
    } finally {
      await plain.close()
    }
  })
})

describe('row spans (what the Data view scrolls through)', () => {
  it('reads rows [start, end) in order, touching only the pages that hold them', async () => {
    const file = await fileSource(input)
    const counting = new CountingSource(file)
    const metadata = await readMetadata(counting, 'items.parquet')
    const target = { cached: new CachedSource(counting), metadata, name: 'items.parquet' }
    const before = counting.counts.bytes
    const rows = await readRowSpan(target, 3990, 4000, ['title'])
    expect(rows.map((r) => r.title)).toEqual(Array.from({ length: 10 }, (_, i) => `item ${3990 + i}`))
    // the title pages of the last row group, not the vectors and not the other groups
    const read = counting.counts.bytes - before
    const titles = metadata.row_groups.at(-1)?.columns.find((c) => c.meta_data?.path_in_schema[0] === 'title')
    expect(read).toBeGreaterThan(0)
    expect(read).toBeLessThanOrEqual(Number(titles?.meta_data?.total_compressed_size) + 1024)
    expect(await readRowSpan(target, 5, 5, ['title'])).toEqual([])
    await file.close()
  })

  it("a local file without offset indexes (pyarrow, DuckDB): a large chunk's pages are found once, then each span reads only its own", async () => {
    const dir = tempDir('pqs-span-walk-')
    const path = join(dir, 'one-group.parquet')
    const n = 3000
    const rand = mulberry32(4)
    // ~1 KB of random words each (little for snappy to squeeze): 3 MB in one chunk
    const texts = Array.from({ length: n }, (_, i) => `row ${i}: ${randomWords(150, rand)}`)
    writeListFile(
      path,
      Array.from({ length: n }, (_, i) => [i, 1]),
      { title: texts },
      {},
      { pageSize: 64 << 10, offsetIndex: false, rowGroupSize: n },
    )
    const file = await fileSource(path)
    const counting = new CountingSource(file)
    const metadata = await readMetadata(counting, 'one-group.parquet')
    const chunk = Number(metadata.row_groups[0]?.columns[0]?.meta_data?.total_compressed_size)
    expect(metadata.row_groups[0]?.columns[0]?.offset_index_offset).toBeUndefined()
    expect(chunk).toBeGreaterThan(2 << 20)
    // (a cache of 1 MiB: the chunk is not kept whole between the spans)
    const target = { cached: new CachedSource(counting, 1 << 20), metadata, name: 'one-group.parquet' }
    expect((await readRowSpan(target, 2950, 2960, ['title'])).map((r) => r.title)).toEqual(texts.slice(2950, 2960))
    const before = counting.counts.bytes
    expect((await readRowSpan(target, 1500, 1510, ['title'])).map((r) => r.title)).toEqual(texts.slice(1500, 1510))
    expect(counting.counts.bytes - before).toBeLessThan(chunk / 10) // its pages (of 64 KiB), not the chunk
    await file.close()
  })

  it('shows a table as DuckDB would: a DATE as its day, a TIME as its time of day, a DECIMAL as written, an INT64 past 2^53 as its digits — in lists too', async () => {
    const dir = tempDir('pqs-span-')
    const path = join(dir, 'typed.parquet')
    const db = await duckdb()
    await db.run(
      `COPY (SELECT DATE '2020-01-31' + i::INTEGER AS day, TIMESTAMP '2020-01-31 12:30:00' AS ts, (0.143 * (i + 1))::DECIMAL(10,3) AS price, 1234567890123456789 + i AS id, TIME '09:05:00.25' + INTERVAL (i * 3) HOUR AS t, CASE WHEN i = 1 THEN NULL ELSE {'day': DATE '2021-06-01' + i::INTEGER, 'at': {'t': TIME '23:59:59'}, 'price': (0.143 * (i + 1))::DECIMAL(10,3)} END AS meta, [DATE '2022-03-01' + i::INTEGER, NULL] AS days, [TIME '07:30:00'] AS times, [(0.143 * (i + 1))::DECIMAL(10,3)] AS prices FROM range(3) t(i)) TO '${path}' (FORMAT parquet)`,
    )
    db.close()
    const source = await fileSource(path)
    const metadata = await readMetadata(source)
    const target = { cached: new CachedSource(source), metadata, name: 'typed.parquet' }
    const shown = shownColumnsOf(metadata)
    const rows = (await readRowSpan(target, 0, 3, ['day', 'ts', 'price', 'id', 't', 'meta'])).map((r) => jsonRow(r, shown))
    // lists of them: each value as the column's would be (a null value stays null)
    const lists = (await readRowSpan(target, 0, 3, ['days', 'times', 'prices'])).map((r) => jsonRow(r, shown))
    expect(lists).toEqual([
      { days: ['2022-03-01', null], times: ['07:30:00'], prices: [0.143] },
      { days: ['2022-03-02', null], times: ['07:30:00'], prices: [0.286] },
      { days: ['2022-03-03', null], times: ['07:30:00'], prices: [0.429] },
    ])
    // as the page gets them: the day was its midnight as a timestamp, the price 0.14300000000000002,
    // the id …800, the time 32700250000 (microseconds since midnight)
    // and the same inside a struct (a null struct stays null)
    expect(rows).toEqual([
      {
        day: '2020-01-31',
        ts: '2020-01-31T12:30:00.000Z',
        price: 0.143,
        id: '1234567890123456789',
        t: '09:05:00.25',
        meta: { day: '2021-06-01', at: { t: '23:59:59' }, price: 0.143 },
      },
      { day: '2020-02-01', ts: '2020-01-31T12:30:00.000Z', price: 0.286, id: '1234567890123456790', t: '12:05:00.25', meta: null },
      {
        day: '2020-02-02',
        ts: '2020-01-31T12:30:00.000Z',
        price: 0.429,
        id: '1234567890123456791',
        t: '15:05:00.25',
        meta: { day: '2021-06-03', at: { t: '23:59:59' }, price: 0.429 },
      },
    ])
    // each unit a TIME column may store, both ways
    expect([timeOfDay(43_800_250, 1e3), timeOfDay(43_800_000_001n, 1e6), timeOfDay(86_399_999_999_999n, 1e9)]).toEqual([
      '12:10:00.25',
      '12:10:00.000001',
      '23:59:59.999999999',
    ])
    expect([parseTimeOfDay('12:10:00.25', 1e3), parseTimeOfDay('12:10', 1e6), parseTimeOfDay('23:59:59.999999999', 1e9)]).toEqual([
      43_800_250, 43_800_000_000, 86_399_999_999_999,
    ])
    // no time of day, or finer than the column stores: none
    expect(['24:00', '12:60', '9:05', 'noon', '12:00:00.0001'].map((t) => parseTimeOfDay(t, 1e3))).toEqual(Array(5).fill(undefined))
    await source.close()
  })

  it('a span outside the file, or an unknown column, is a named error', async () => {
    const source = await fileSource(input)
    const target = { cached: new CachedSource(source), metadata: await readMetadata(source), name: 'items.parquet' }
    await expect(readRowSpan(target, 3995, 4005, ['title'])).rejects.toThrow(
      "items.parquet: rows 3995…4005 are outside the file's 4000 rows",
    )
    await expect(readRowSpan(target, -1, 3, ['title'])).rejects.toThrow('outside the file')
    await expect(readRowSpan(target, 0, 3, ['nope'])).rejects.toThrow(
      'column "nope": no such column to return; the columns are: title, embedding',
    )
    await source.close()
  })
})

describe('network faults', () => {
  const q = () => queries[5] as Float32Array
  it('a host that answers several ranges in one request with 416 (Alibaba OSS) is read one range a request: the same results, asked once', async () => {
    const multi: string[] = []
    const oss = await serveFile(indexed, {
      host: 's3',
      fault: (req, res) => {
        if (!req.headers.range?.includes(',')) return false
        multi.push(req.headers.range)
        res.writeHead(416).end()
        return true
      },
    })
    const plain = await serveFile(indexed, { host: 's3' })
    try {
      for (const multiRange of [true, undefined]) {
        multi.length = 0
        // (without the probe at open, the first scattered read asks and learns)
        const index = await openIndex(oss.url, { tailBytes: tail, http: { probeMultiRange: multiRange === undefined } })
        const found = await index.search(q(), { k: 10, nprobe: 16, columns: ['title'] })
        const expected = await (await openIndex(plain.url)).search(q(), { k: 10, nprobe: 16, columns: ['title'] })
        expect(found.results).toEqual(expected.results)
        expect(multi).toHaveLength(1)
      }
    } finally {
      await oss.close()
      await plain.close()
    }
  })
  it("a host that stops answering: reading a row's vector, or searching, is left as soon as it is cancelled", async () => {
    let hold = false
    let release = () => {}
    const held = new Promise<void>((r) => {
      release = r
    })
    const stalled = await serveFile(indexed, {
      fault: async () => {
        if (hold) await held
        return false
      },
    })
    try {
      // (the footer and index head alone at open: rows, lists and pages are read later)
      const index = await openIndex(stalled.url, { tailBytes: tail })
      hold = true
      const cancelled = async (work: (signal: AbortSignal) => Promise<unknown>) => {
        const controller = new AbortController()
        const before = stalled.requests
        const running = work(controller.signal).then(
          () => 'answered',
          (e: Error) => e.name,
        )
        // cancelled once its read is out (and held)
        await expect.poll(() => stalled.requests).toBeGreaterThan(before)
        controller.abort()
        return Promise.race([running, new Promise((r) => setTimeout(() => r('still waiting after 10 s'), 10_000))])
      }
      // (the vector is read through hyparquet, which passes no signal: it waited for the host)
      expect(await cancelled((signal) => index.vectorOf(3000, signal))).toBe('AbortError')
      expect(await cancelled((signal) => index.search(q(), { k: 10, columns: ['title'], signal }))).toBe('AbortError')
    } finally {
      release()
      await stalled.close()
    }
  })

  it('404 and 416 are clear errors, not retries', async () => {
    const s = await serveFile(indexed, {
      fault: (_req, res) => {
        res.writeHead(404, 'Not Found').end()
        return true
      },
    })
    try {
      await expect(openIndex(s.url)).rejects.toThrow(/HTTP 404 Not Found/)
      expect(s.requests).toBe(2) // the tail read and the multi-range probe beside it, neither retried
    } finally {
      await s.close()
    }
    let n = 0
    const t = await serveFile(indexed, {
      fault: (_req, res) => {
        if (++n === 1) return false
        res.writeHead(416).end()
        return true
      },
    })
    try {
      // faults by request number: no multi-range probe beside the first
      const index = await openIndex(t.url, { tailBytes: tail, http: { multiRange: false } })
      await expect(index.search(q())).rejects.toThrow(/HTTP 416/)
    } finally {
      await t.close()
    }
  })

  it('retries 500s and connection resets a bounded number of times', async () => {
    let n = 0
    const flaky = await serveFile(indexed, {
      fault: (_req, res) => {
        n++
        if (n === 2) {
          res.writeHead(503, { 'Retry-After': '0' }).end()
          return true
        }
        if (n === 3) {
          // headers and half a body, then the connection drops
          res.writeHead(206, { 'Content-Length': 1000, 'Content-Range': 'bytes 0-999/9999999' })
          res.write(Buffer.alloc(500))
          setTimeout(() => res.destroy(), 5)
          return true
        }
        return false
      },
    })
    try {
      // faults by request number: no multi-range probe beside the first
      const index = await openIndex(flaky.url, { tailBytes: tail, http: { retryDelayMs: 1, multiRange: false } })
      const { results } = await index.search(q(), { k: 3 })
      expect(results).toHaveLength(3)
    } finally {
      await flaky.close()
    }
    const down = await serveFile(indexed, {
      fault: (_req, res, i) => {
        if (i === 1) return false
        res.writeHead(500).end()
        return true
      },
    })
    try {
      const index = await openIndex(down.url, { tailBytes: tail, http: { retryDelayMs: 1, multiRange: false } })
      await expect(index.search(q())).rejects.toThrow(/gave up after 4 attempts: HTTP 500/)
      expect(down.requests).toBe(1 + 4)
    } finally {
      await down.close()
    }
  })

  it('a server that ignores Range still works (whole file read once, with a warning)', async () => {
    const s = await serveFile(indexed, { ignoreRange: true })
    const warnings: string[] = []
    try {
      const index = await openIndex(s.url, { http: { onWarning: (w) => warnings.push(w) } })
      const { results } = await index.search(q(), { k: 3 })
      expect(results).toHaveLength(3)
      expect(warnings.join()).toMatch(/ignores Range requests/)
      expect(s.requests).toBe(2) // the whole file once, and the multi-range probe's answer cancelled
    } finally {
      await s.close()
    }
  })

  it('a server without multi-range support gets one request per range, same answer', async () => {
    const s = await serveFile(indexed, { noMultiRange: true })
    try {
      const a = await (await openIndex(s.url, { tailBytes: tail })).search(q(), { k: 5 })
      const b = await (await openIndex(server.url, { tailBytes: tail })).search(q(), { k: 5 })
      expect(a.results.map((r) => r.row)).toEqual(b.results.map((r) => r.row))
      expect(a.stats.requests).toBeGreaterThan(b.stats.requests)
    } finally {
      await s.close()
    }
  })

  it('a file replaced on the server after open is reported, never misread', async () => {
    const copy = join(dir, 'replaced.parquet')
    copyFileSync(indexed, copy)
    const s = await serveFile(copy)
    try {
      const index = await openIndex(s.url, { tailBytes: tail })
      writeFileSync(copy, Buffer.concat([readFileSync(indexed), Buffer.from('extra bytes')]))
      await expect(index.search(q())).rejects.toThrow(/changed on the server since it was opened/)
    } finally {
      await s.close()
    }
  })

  it('a server that answers a suffix range with the head (sirv, vite preview) still opens: the tail is asked for by offset', async () => {
    const size = statSync(indexed).size
    const s = await serveFile(indexed, {
      fault: (req, res) => {
        const suffix = /^bytes=-(\d+)$/.exec(req.headers.range ?? '')
        if (!suffix) return false
        const n = Math.min(size, Number(suffix[1]))
        const head = readFileSync(indexed).subarray(0, n)
        res.writeHead(206, { 'Content-Range': `bytes 0-${n - 1}/${size}`, 'Content-Length': n }).end(head)
        return true
      },
    })
    try {
      const index = await openIndex(s.url, { tailBytes: 4096 })
      expect(index.opened.open.requests).toBeGreaterThanOrEqual(2)
      const { results } = await index.search(q(), { k: 3 })
      expect(results).toHaveLength(3)
    } finally {
      await s.close()
    }
  })

  it('a stalled server and a trickling one are abandoned and retried, never waited on forever', async () => {
    let n = 0
    const s = await serveFile(indexed, {
      fault: (_req, res) => {
        n++
        if (n === 2) return true // no answer at all
        if (n === 3) {
          // headers, then one byte every 40 ms: a trickle
          res.writeHead(206, { 'Content-Range': 'bytes 0-99/9999999', 'Content-Length': 100 })
          const t = setInterval(() => res.write(Buffer.alloc(1)), 40)
          res.on('close', () => clearInterval(t))
          return true
        }
        return false
      },
    })
    try {
      const index = await openIndex(s.url, { tailBytes: tail, http: { retryDelayMs: 1, stallMs: 300, attemptMs: 600, multiRange: false } })
      const { results } = await index.search(q(), { k: 3 })
      expect(results).toHaveLength(3)
      expect(n).toBeGreaterThanOrEqual(4)
    } finally {
      await s.close()
    }
    const dead = await serveFile(indexed, { fault: (_req, _res, i) => i > 1 })
    try {
      const index = await openIndex(dead.url, { tailBytes: tail, http: { retryDelayMs: 1, stallMs: 200, attempts: 3, multiRange: false } })
      await expect(index.search(q())).rejects.toThrow(/gave up after 3 attempts: no response in 200 ms/)
    } finally {
      await dead.close()
    }
  })

  it('random latency (responses out of order) changes nothing', async () => {
    const rand = mulberry32(5)
    const jittery = await serveFile(indexed, {
      fault: async () => {
        await new Promise((r) => setTimeout(r, rand() * 30))
        return false
      },
    })
    const plain = await serveFile(indexed)
    try {
      const a = await openIndex(jittery.url, { tailBytes: tail })
      const b = await openIndex(plain.url, { tailBytes: tail })
      const queries = [q(), q(), q()].map((v, i) => v.map((x) => x + i * 0.1))
      const [ra, rb] = await Promise.all([
        a.searchBatch(queries, { k: 5, columns: ['title'] }),
        b.searchBatch(queries, { k: 5, columns: ['title'] }),
      ])
      expect(ra?.map((r) => r.results)).toEqual(rb?.map((r) => r.results))
    } finally {
      await jittery.close()
      await plain.close()
    }
  })

  it('a wrong Content-Range is not trusted', async () => {
    let n = 0
    const s = await serveFile(indexed, {
      fault: (_req, res) => {
        if (++n === 1) return false
        res.writeHead(206, { 'Content-Range': 'bytes 0-9/99', 'Content-Length': 10 }).end(Buffer.alloc(10))
        return true
      },
    })
    try {
      const index = await openIndex(s.url, { tailBytes: tail, http: { retryDelayMs: 1, multiRange: false } })
      await expect(index.search(q())).rejects.toThrow(/wrong Content-Range/)
    } finally {
      await s.close()
    }
  })
})

describe('vector pages decoded on workers (a large batch)', () => {
  // the built worker (build/src/search/nodePageWorker.js, `npm test` builds it first) decodes
  // what this thread hands it
  const built = async () => {
    const { spawnNodePageWorker } = await import(resolve('build/src/search/nodePages.js'))
    return spawnNodePageWorker as SpawnWorker
  }
  const column = { kind: 'list', element: 'FLOAT' } as const
  const context = (i: number) => ({ file: 'pages', column: 'embedding', offset: 1000 + i, row: i })

  it("the same floats on one thread and on 3 or 5 (this thread decoding a share, or only handing out); shared memory or not; a bad page in a worker's part is named as on one thread", async () => {
    const spawn = await built()
    const n = 4 * PAGES_A_THREAD + 7
    const vectors = clusteredVectors(n, 12, 4)
    const pages = vectorPages(vectors, 12)
    const bad = pages.slice()
    bad[n - 2] = (bad[n - 2] as Uint8Array).subarray(0, 30) // cut short, in the last worker's part
    const alone = await decodePages(undefined, bad, column, 'LZ4_RAW', 12, new Float32Array(n * 12), context).catch((e) => e)
    expect(alone).toBeInstanceOf(ParquetSeekError)
    expect(alone.message).toMatch(`row ${n - 2}`)
    for (const threads of [3, 5]) {
      const decoders = new PageDecoders(threads, spawn)
      const pool = (await decoders.poolFor(Number.MAX_SAFE_INTEGER)) as PageWorkers
      try {
        for (const out of [new Float32Array(n * 12), sharedFloats(n * 12)]) {
          await decodePages(pool, pages, column, 'LZ4_RAW', 12, out, context)
          expect(firstDifference(out, vectors)).toBeUndefined()
        }
        // twice: the workers' buffers from the first call are reused
        const again = new Float32Array(n * 12)
        await decodePages(pool, pages, column, 'LZ4_RAW', 12, again, context)
        expect(firstDifference(again, vectors)).toBeUndefined()
        await expect(decodePages(pool, bad, column, 'LZ4_RAW', 12, new Float32Array(n * 12), context)).rejects.toThrow(alone.message)
      } finally {
        decoders.close()
      }
    }
  }, 60_000)

  it("a search given threads decodes a large batch's pages on workers, with the answers of one thread", async () => {
    const spawn = await built()
    const n = 9000
    const x = clusteredVectors(n + 300, 8, 11, 30)
    const path = join(dir, 'many.parquet')
    const out = join(dir, 'many.indexed.parquet')
    writeListFile(
      path,
      Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * 8, (i + 1) * 8))),
    )
    const source = await fileSource(path)
    await buildIndex(source, await fileSink(out, path), { column: 'embedding', nlist: 30 })
    await source.close()
    const batch = Array.from({ length: 300 }, (_, q) => x.subarray((n + q) * 8, (n + q + 1) * 8))
    let spawned = 0
    const files = [await fileSource(out), await fileSource(out)] as const
    const counted = () => {
      spawned++
      return spawn()
    }
    const threaded = await openIndex(files[0], { threads: 3, spawnWorker: counted })
    const single = await openIndex(files[1])
    try {
      const search = { k: 10, refine: 10, nprobe: 30 }
      const got = await threaded.searchBatch(batch, search)
      const want = await single.searchBatch(batch, search)
      expect(got[0]?.stats.pagesDecoded).toBeGreaterThanOrEqual(2 * PAGES_A_THREAD)
      expect(spawned).toBe(2)
      expect(got.map((r) => r.results.map((h) => [h.row, h.distance]))).toEqual(want.map((r) => r.results.map((h) => [h.row, h.distance])))
      // a few queries decode on this thread alone: no more workers
      await threaded.searchBatch(batch.slice(0, 2), search)
      expect(spawned).toBe(2)
    } finally {
      threaded.close()
      single.close()
      for (const f of files) await f.close()
    }
  }, 120_000)
})

describe('distances as a person reads them', () => {
  it('reads a cosine distance under 10⁻⁶ as 0, and every other distance as it is', () => {
    // the demo's rows' cosine distances to themselves (search --query-row N)
    expect([-5.960470694788e-8, 8.940696938353199e-8, -1.7763568394002505e-15].map((d) => shownDistance(d, 'cosine', 4))).toEqual([
      '0.000',
      '0.000',
      '0.000',
    ])
    expect(shownDistance(0.1865, 'cosine', 4)).toBe('0.1865')
    expect(shownDistance(2e-6, 'cosine', 3)).toBe('0.00000200')
    // (L2 gives a row 0 itself, and small vectors small distances; dot has no zero of its own)
    expect(shownDistance(2e-9, 'l2', 3)).toBe('2.00e-9')
    expect(shownDistance(-5.96e-8, 'dot', 3)).toBe('-5.96e-8')
  })
})
