import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RangeServer, serveFile } from '../src/cli/rangeServer.js'
import { type Kernels, loadKernels } from '../src/compute/backend.js'
import { mulberry32 } from '../src/compute/random.js'
import type { ListView } from '../src/index/blob.js'
import { type BuildProgress, buildIndex } from '../src/index/build.js'
import { orderWithinLists } from '../src/index/rowOrder.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { coalesce } from '../src/io/ranges.js'
import { MemorySink } from '../src/io/sink.js'
import { describeEmbeddingColumn } from '../src/parquet/embedding.js'
import { readMetadata } from '../src/parquet/footer.js'
import { ROW_COLUMN } from '../src/parquet/permute.js'
import { writeIndexed } from '../src/parquet/writeIndexed.js'
import { listExtents, rowsAround, withListsBetween } from '../src/query/adjacent.js'
import type { ListPlace } from '../src/query/pipeline.js'
import { openIndex } from '../src/search/engine.js'
import { cli } from './helpers/cli.js'
import { clusteredVectors, duckdb, headOnlyTail, listOfFloat, tempDir, writeListFile } from './helpers/fixtures.js'

const DIM = 96
const ROWS = 12_000
const NULL_VECTOR = 17 // a row without a vector: kept, outside the index, stored last

describe('rows clustered by list (index --cluster-rows)', () => {
  const dir = tempDir('pqs-cluster-')
  const input = join(dir, 'input.parquet')
  const plain = join(dir, 'plain.parquet')
  const clustered = join(dir, 'clustered.parquet')
  const all = clusteredVectors(ROWS + 20, DIM, 7, 60)
  const queries = Array.from({ length: 20 }, (_, q) => all.slice((ROWS + q) * DIM, (ROWS + q + 1) * DIM))
  const servers: RangeServer[] = []
  /** The clustered build's progress events and its reorder phase's time. */
  let reorder = { events: [] as BuildProgress[], ms: 0 }

  beforeAll(async () => {
    const embedding = Array.from({ length: ROWS }, (_, i) => (i === NULL_VECTOR ? null : Array.from(all.subarray(i * DIM, (i + 1) * DIM))))
    writeFileSync(
      input,
      new Uint8Array(
        parquetWriteBuffer({
          schema: [
            { name: 'root', num_children: 4 },
            { name: 'id', type: 'INT64', repetition_type: 'REQUIRED' },
            { name: 'title', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
            { name: 'score', type: 'DOUBLE', repetition_type: 'REQUIRED' },
            ...listOfFloat('embedding'),
          ],
          columnData: [
            { name: 'id', data: Array.from({ length: ROWS }, (_, i) => BigInt(1000 + i)) },
            { name: 'title', data: Array.from({ length: ROWS }, (_, i) => (i % 97 === 5 ? null : `row ${i} ${'é'.repeat(i % 4)}`)) },
            { name: 'score', data: Array.from({ length: ROWS }, (_, i) => Math.sin(i) * 1e6) },
            { name: 'embedding', data: embedding },
          ],
          rowGroupSize: 2500,
        }),
      ),
    )
    for (const [out, clusterRows] of [
      [plain, false],
      [clustered, true],
    ] as const) {
      const src = await fileSource(input)
      const events: BuildProgress[] = []
      const summary = await buildIndex(src, await fileSink(out, input), {
        column: 'embedding',
        skipInvalid: true,
        clusterRows,
        onProgress: (p) => events.push(p),
      })
      await src.close()
      if (clusterRows) reorder = { events, ms: summary.phasesMs.reorder }
    }
  }, 60_000)
  afterAll(async () => {
    for (const s of servers) await s.close()
  })

  it('decoding every column to reorder the rows is a phase of its own, with progress, before the write', () => {
    const phases = reorder.events.map((e) => e.phase)
    const first = phases.indexOf('reorder')
    expect(first).toBeGreaterThan(phases.lastIndexOf('tune'))
    expect(phases.indexOf('write')).toBeGreaterThan(phases.lastIndexOf('reorder'))
    // the four columns (id, title, score, embedding), one event each after the first
    expect(reorder.events.filter((e) => e.phase === 'reorder').map((e) => `${e.done}/${e.total}`)).toEqual([
      '0/4',
      '1/4',
      '2/4',
      '3/4',
      '4/4',
    ])
    expect(reorder.ms).toBeGreaterThan(0)
  })

  it('DuckDB reads every input column, and ordering by parquetseek_row gives back the input rows exactly', async () => {
    const db = await duckdb()
    try {
      const cols = 'id, title, score, embedding'
      const original = await db.rows(`SELECT ${cols} FROM read_parquet('${input}')`)
      const restored = await db.rows(`SELECT ${cols} FROM read_parquet('${clustered}') ORDER BY ${ROW_COLUMN}`)
      expect(restored).toEqual(original)
      const stored = (await db.rows(`SELECT ${ROW_COLUMN} FROM read_parquet('${clustered}')`)).map((r) => Number(r[0]))
      expect(stored).not.toEqual([...stored].sort((a, b) => a - b)) // the rows did move
      expect(stored.at(-1)).toBe(NULL_VECTOR) // the row outside the index comes last
    } finally {
      db.close()
    }
  })

  it('finds the same neighbours at the same distances as the file in input order', async () => {
    const files = [await fileSource(plain), await fileSource(clustered)] as const
    const a = await openIndex(files[0])
    const b = await openIndex(files[1])
    expect(b.opened.model.params.clustered).toBe(true)
    for (const q of queries) {
      // the same lists and candidates (the two builds may tune different defaults: candidates cost less when clustered)
      // (without what each layout's reads bring along: that differs between the two files)
      const x = await a.search(q, { k: 10, nprobe: 12, refine: 10, adjacent: false, columns: ['id'] })
      const y = await b.search(q, { k: 10, nprobe: 12, refine: 10, adjacent: false, columns: ['id', ROW_COLUMN] })
      expect(y.results.map((h) => h.values.id)).toEqual(x.results.map((h) => h.values.id))
      for (const [i, h] of y.results.entries()) {
        expect(h.distance).toBeCloseTo(x.results[i]?.distance as number, 5)
        expect(h.values[ROW_COLUMN]).toBe(x.results[i]?.row) // the input's row number, kept
      }
    }
    for (const f of files) await f.close()
  })

  it("on an S3-style host a query's candidate pages take far fewer requests than in input order", async () => {
    const pageRequests = async (path: string) => {
      let dataEnd = 0
      let requests = 0
      const server = await serveFile(path, {
        host: 's3',
        fault: (req) => {
          const start = Number(/bytes=(\d+)-/.exec(req.headers.range ?? '')?.[1] ?? -1)
          if (start >= 0 && start < dataEnd) requests++
          return false
        },
      })
      servers.push(server)
      // the lists and pages stay on the host (the file fits the default tail read at open)
      const index = await openIndex(`${server.url}/f.parquet`, { connections: 6, tailBytes: await headOnlyTail(path) })
      dataEnd = index.opened.location.offset // below the index blob: the data pages
      await index.search(queries[0] as Float32Array, { k: 10 }) // a first search (lists and pages then counted from a warm start)
      requests = 0
      for (const q of queries.slice(1)) await index.search(q, { k: 10 })
      return requests / (queries.length - 1)
    }
    const scattered = await pageRequests(plain)
    const together = await pageRequests(clustered)
    console.log(`candidate page requests per query on s3: input order ${scattered.toFixed(1)}, clustered ${together.toFixed(1)}`)
    expect(together).toBeLessThan(scattered / 3)
  })

  it('on an S3-style host also searches the lists and rows its reads bring along: nearer results, about the same reads; a local file and a batch agree; a multi-range host only when asked', async () => {
    const tailBytes = await headOnlyTail(clustered)
    const s3 = await serveFile(clustered, { host: 's3' })
    const nginx = await serveFile(clustered, { host: 'nginx' })
    servers.push(s3, nginx)
    const onS3 = await openIndex(`${s3.url}/f.parquet`, { connections: 6, tailBytes })
    const onNginx = await openIndex(`${nginx.url}/f.parquet`, { connections: 6, tailBytes })
    const localFile = await fileSource(clustered)
    const local = await openIndex(localFile)
    const o = { k: 10, nprobe: 6, refine: 2 } // 6 of 438 lists: gaps between them, some under a request's worth
    const answer = (r: { results: Array<{ row: number; distance: number }> }) => r.results.map((h) => [h.row, h.distance])
    const sum = { lists: 0, rows: 0 }
    // [without, with] summed over the queries: result distances, bytes, requests
    const near = new Float64Array(2)
    const bytes = new Float64Array(2)
    const requests = new Float64Array(2)
    const singles: number[][][] = []
    for (const q of queries) {
      onS3.clearCache()
      const without = await onS3.search(q, { ...o, adjacent: false })
      onS3.clearCache()
      const withIt = await onS3.search(q, o)
      expect(withIt.stats.listsProbed).toBe(without.stats.listsProbed)
      expect(without.stats.listsAdjacent).toBe(0)
      sum.lists += withIt.stats.listsAdjacent
      sum.rows += withIt.stats.candidates - without.stats.candidates
      for (const [i, r] of [without, withIt].entries()) {
        near[i] = (near[i] as number) + r.results.reduce((n, h) => n + h.distance, 0)
        bytes[i] = (bytes[i] as number) + r.stats.bytes
        requests[i] = (requests[i] as number) + r.stats.requests
      }
      singles.push(answer(withIt))
      // defined by the file alone: the same from a local file, and from the cache
      local.clearCache()
      expect(answer(await local.search(q, o))).toEqual(answer(withIt))
      expect(answer(await onS3.search(q, o))).toEqual(answer(withIt))
      // a host with multi-range requests would read those bytes on purpose: only when asked
      onNginx.clearCache()
      const plain = await onNginx.search(q, o)
      expect(plain.stats.listsAdjacent).toBe(0)
      expect(answer(plain)).toEqual(answer(without))
      onNginx.clearCache()
      const asked = await onNginx.search(q, { ...o, adjacent: true })
      expect(answer(asked)).toEqual(answer(withIt))
      expect(asked.stats.bytes).toBeGreaterThan(plain.stats.bytes)
    }
    local.clearCache()
    expect((await local.searchBatch(queries, o)).map(answer)).toEqual(singles)
    await localFile.close()
    console.log(
      `${queries.length} queries on s3: ${sum.lists} lists and ${sum.rows} rows more searched; result distances summed ${near.join(' → ')}, bytes ${bytes.join(' → ')}, requests ${requests.join(' → ')}`,
    )
    expect(sum.lists).toBeGreaterThan(0)
    expect(sum.rows).toBeGreaterThan(0)
    const [nearWithout, nearWith] = near
    const [bytesWithout, bytesWith] = bytes
    const [requestsWithout, requestsWith] = requests
    expect(nearWith).toBeLessThan(nearWithout as number)
    // the candidates change with the lists scanned, and so do the pages read: about the same
    expect(bytesWith).toBeLessThan((bytesWithout as number) * 1.1)
    expect(requestsWith).toBeLessThanOrEqual((requestsWithout as number) + 2)
  })

  it('info and the JSON summary say the rows are stored list by list', async () => {
    const run = await cli(['info', clustered])
    expect(run.code).toBe(0)
    expect(run.stdout).toContain(
      `rows stored list by list (index --cluster-rows); each row's number in the input is in column ${ROW_COLUMN}`,
    )
    expect((await cli(['info', plain])).stdout).toContain('rows in the input order')
  })

  it('refuses, before training, a file with a column it cannot re-encode bit for bit, naming it', async () => {
    const nested = join(dir, 'nested.parquet')
    writeFileSync(
      nested,
      new Uint8Array(
        parquetWriteBuffer({
          schema: [
            { name: 'root', num_children: 2 },
            { name: 'tags', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
            { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
            { name: 'element', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
            { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
            { name: 'element', type: 'INT32', repetition_type: 'OPTIONAL' },
            ...listOfFloat('embedding'),
          ],
          columnData: [
            { name: 'tags', data: Array.from({ length: 300 }, (_, i) => [[i], [i + 1, i + 2]]) },
            { name: 'embedding', data: Array.from({ length: 300 }, (_, i) => Array.from(all.subarray(i * DIM, (i + 1) * DIM))) },
          ],
        }),
      ),
    )
    const src = await fileSource(nested)
    const phases: string[] = []
    await expect(
      buildIndex(src, await fileSink(join(dir, 'nested.out.parquet'), nested), {
        column: 'embedding',
        clusterRows: true,
        onProgress: (p) => phases.push(p.phase),
      }),
    ).rejects.toThrow(/column tags\.list\.element\.list\.element \(nested\) cannot be re-encoded bit for bit, so rows cannot be clustered/)
    expect(phases).toEqual([])
    await src.close()
    // a second vector column: refused for what holding it decoded would cost, not silently taken
    const twoVectors = join(dir, 'two-vectors.parquet')
    const vector = (i: number) => Array.from(all.subarray(i * DIM, (i + 1) * DIM))
    writeFileSync(
      twoVectors,
      new Uint8Array(
        parquetWriteBuffer({
          schema: [{ name: 'root', num_children: 2 }, ...listOfFloat('image'), ...listOfFloat('embedding')],
          columnData: [
            { name: 'image', data: Array.from({ length: 300 }, (_, i) => vector(i + 1)) },
            { name: 'embedding', data: Array.from({ length: 300 }, (_, i) => vector(i)) },
          ],
        }),
      ),
    )
    const two = await fileSource(twoVectors)
    await expect(
      buildIndex(two, await fileSink(join(dir, 'two.out.parquet'), twoVectors), { column: 'embedding', clusterRows: true }),
    ).rejects.toThrow(/column image\.list\.element is a list of FLOAT, another vector column: rows are clustered with one only/)
    await two.close()
  })

  it('moves dates, times, timestamps, DECIMALs of up to 15 digits, and lists and structs of such values bit for bit (DuckDB reads the same rows and statistics); refuses wider DECIMALs', async () => {
    const db = await duckdb()
    try {
      const typed = join(dir, 'typed.parquet')
      const out = join(dir, 'typed.clustered.parquet')
      await db.run(
        `COPY (SELECT i AS id, CASE WHEN i % 11 = 0 THEN NULL ELSE DATE '2020-01-01' + i::INTEGER END AS day,
          TIMESTAMP '2020-01-01' + INTERVAL (i * 37) MINUTE AS ts, (TIMESTAMP '2021-01-01' + INTERVAL (i) SECOND)::TIMESTAMP_MS AS tms,
          (TIMESTAMP '2021-01-01' + INTERVAL (i) MICROSECOND)::TIMESTAMP_NS AS tns, TIMESTAMPTZ '2020-06-01 00:00:00+00' + INTERVAL (i) HOUR AS tz,
          TIME '01:02:03' + INTERVAL (i) SECOND AS t, (i / 7.0)::DECIMAL(10,3) AS price, ((i % 70) * 1.25)::DECIMAL(4,2) AS small,
          (i / 3.0)::DECIMAL(15,5) AS wide,
          CASE WHEN i % 17 = 0 THEN NULL WHEN i % 13 = 0 THEN [] ELSE ['tag' || (i % 5), CASE WHEN i % 7 = 0 THEN NULL ELSE 'y' END] END AS tags,
          [DATE '2020-01-01' + i::INTEGER, NULL]::DATE[] AS days,
          CASE WHEN i % 17 = 0 THEN NULL ELSE {'a': CASE WHEN i % 5 = 0 THEN NULL ELSE i END, 'd': DATE '2020-01-01' + i::INTEGER, 'p': (i / 7.0)::DECIMAL(10,3)} END AS st,
          [sin(i)::FLOAT, cos(i)::FLOAT, (i % 13)::FLOAT]::FLOAT[3] AS embedding
          FROM range(3000) t(i)) TO '${typed}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`,
      )
      const src = await fileSource(typed)
      await buildIndex(src, await fileSink(out, typed), { column: 'embedding', clusterRows: true })
      await src.close()
      // the same rows both ways, and each row where parquetseek_row says it came from
      const missing = (a: string, b: string) => db.rows(`SELECT count(*) FROM (SELECT * FROM ${a} EXCEPT ALL SELECT * FROM ${b})`)
      const moved = `(SELECT * EXCLUDE (${ROW_COLUMN}) FROM '${out}')`
      expect(await missing(`'${typed}'`, moved)).toEqual([[0n]])
      expect(await missing(moved, `'${typed}'`)).toEqual([[0n]])
      const rows = await db.rows(`SELECT ${ROW_COLUMN}, id FROM '${out}'`)
      expect(rows.every(([row, id]) => BigInt(row as number) === id)).toBe(true)
      expect(rows.map(([row]) => row)).not.toEqual(rows.map((_, i) => i)) // the rows did move
      // statistics the rows were written with: a filter DuckDB prunes by them counts the same
      for (const where of [
        "day = DATE '2020-03-01'",
        "ts > TIMESTAMP '2020-02-01'",
        "t >= TIME '01:30:00'",
        'price = 0.143',
        'wide > 900',
        'small = 2.50',
        "list_contains(tags, 'tag3')",
        'tags IS NULL',
        'len(tags) = 0',
        "days[1] = DATE '2020-01-05'",
        'st IS NULL',
        'st.a IS NULL',
        "st.d = DATE '2020-03-01'",
        'st.p = 0.143',
      ]) {
        const [[a]] = (await db.rows(`SELECT count(*) FROM '${typed}' WHERE ${where}`)) as [[bigint]]
        expect(await db.rows(`SELECT count(*) FROM '${out}' WHERE ${where}`)).toEqual([[a]])
        expect(a).toBeGreaterThan(0n)
      }
      const wider = join(dir, 'wider.parquet')
      await db.run(
        `COPY (SELECT (i / 3.0)::DECIMAL(18,5) AS wider, [sin(i)::FLOAT, cos(i)::FLOAT]::FLOAT[2] AS embedding FROM range(300) t(i)) TO '${wider}' (FORMAT parquet)`,
      )
      const w = await fileSource(wider)
      await expect(
        buildIndex(w, await fileSink(join(dir, 'wider.out.parquet'), wider), { column: 'embedding', clusterRows: true }),
      ).rejects.toThrow(/column wider \(DECIMAL\) cannot be re-encoded bit for bit/)
      await w.close()
    } finally {
      db.close()
    }
  })

  it('with every vector valid, stores the vectors read for training (not normalized for cosine) without decoding the column again', async () => {
    const whole = join(dir, 'whole.parquet')
    const rows = 3000
    const vectors = Array.from({ length: rows }, (_, i) =>
      Array.from(all.subarray(i * DIM, (i + 1) * DIM), (v) => Math.fround(v * (1 + (i % 7)))),
    )
    writeListFile(whole, vectors, { word: Array.from({ length: rows }, (_, i) => `w${i}`) })
    const meta = await parquetMetadataAsync(await asyncBufferFromFile(whole))
    const chunks = meta.row_groups.map((g) => {
      const m = g.columns[1]?.meta_data
      const start = Number(m?.dictionary_page_offset ?? m?.data_page_offset)
      return [start, start + Number(m?.total_compressed_size)] as const
    })
    const src = await fileSource(whole)
    let embeddingBytes = 0
    const counted = {
      ...src,
      slice: (start: number, end: number, signal?: AbortSignal) => {
        // reads of the column's pages (the footer's suffix read overlaps the last chunk: not counted)
        for (const [a, b] of chunks) if (start >= a && end <= b) embeddingBytes += end - start
        return src.slice(start, end, signal)
      },
    }
    const out = join(dir, 'whole.clustered.parquet')
    await buildIndex(counted, await fileSink(out, whole), { column: 'embedding', metric: 'cosine', clusterRows: true })
    await src.close()
    const chunkBytes = chunks.reduce((n, [a, b]) => n + b - a, 0)
    // decoded once, for training (a second decode to reorder read it twice)
    expect(embeddingBytes).toBe(chunkBytes)
    const written = await parquetReadObjects({ file: await asyncBufferFromFile(out), columns: ['embedding', ROW_COLUMN], compressors })
    expect(written.map((r) => r[ROW_COLUMN])).not.toEqual(written.map((_, i) => i))
    for (const r of written) expect(r.embedding).toEqual(vectors[r[ROW_COLUMN] as number])
  })

  it('over the memory budget (a streamed build), stores the rows list by list too, a window of row groups at a time, each window a pass with progress', async () => {
    const src = await fileSource(input)
    const out = join(dir, 'streamed.clustered.parquet')
    const events: BuildProgress[] = []
    const summary = await buildIndex(src, await fileSink(out, input), {
      column: 'embedding',
      skipInvalid: true,
      clusterRows: true,
      memoryBytes: 64 << 10,
      onProgress: (p) => events.push(p),
    })
    await src.close()
    expect(summary.streamed).toBe(true)
    // five row groups of 2,500 rows, each over the budget: a window each, four columns decoded in each
    const reorders = events.filter((e) => e.phase === 'reorder')
    expect(reorders.at(-1)).toMatchObject({ done: 20, total: 20 })
    // each window's rows written before the next is read
    const phases = events.map((e) => e.phase).filter((p) => p === 'reorder' || p === 'write')
    expect(phases.indexOf('reorder', phases.indexOf('write'))).toBeGreaterThan(0)
    const db = await duckdb()
    try {
      const cols = 'id, title, score, embedding'
      const original = await db.rows(`SELECT ${cols} FROM read_parquet('${input}')`)
      expect(await db.rows(`SELECT ${cols} FROM read_parquet('${out}') ORDER BY ${ROW_COLUMN}`)).toEqual(original)
      const stored = (await db.rows(`SELECT ${ROW_COLUMN} FROM read_parquet('${out}')`)).map((r) => Number(r[0]))
      expect(stored).not.toEqual([...stored].sort((a, b) => a - b))
    } finally {
      db.close()
    }
    const file = await fileSource(out)
    const index = await openIndex(file)
    expect(index.opened.model.params.clustered).toBe(true)
    const found = await index.search(all.subarray(40 * DIM, 41 * DIM), { k: 1, columns: ['id', ROW_COLUMN] })
    expect(found.results[0]?.values).toEqual({ id: 1040n, [ROW_COLUMN]: 40 })
    await file.close()
  })

  it('reorders a window of row groups at a time when the rows do not fit: the same bytes as all at once, lists, structs and a NULL FLOAT[n] included', async () => {
    const nested = join(dir, 'nested.parquet')
    const db = await duckdb()
    try {
      await db.run(
        `COPY (SELECT i AS id, CASE WHEN i % 17 = 0 THEN NULL ELSE ['tag' || (i % 5), NULL] END AS tags,
          CASE WHEN i % 13 = 0 THEN NULL ELSE {'a': i, 'd': DATE '2020-01-01' + i::INTEGER} END AS st,
          (CASE WHEN i = 5 THEN NULL ELSE [sin(i)::FLOAT, cos(i)::FLOAT] END)::FLOAT[2] AS embedding
          FROM range(6000) t(i)) TO '${nested}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`,
      )
    } finally {
      db.close()
    }
    for (const path of [input, nested]) {
      const source = await fileSource(path)
      const metadata = await readMetadata(source)
      const column = describeEmbeddingColumn(metadata, 'embedding')
      const rows = Number(metadata.num_rows)
      const rand = mulberry32(3)
      const order = Uint32Array.from({ length: rows }, (_, i) => i)
      for (let i = rows - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1))
        ;[order[i], order[j]] = [order[j] as number, order[i] as number]
      }
      const write = async (reorderBytes?: number) => {
        const sink = new MemorySink()
        const events: Array<[number, number]> = []
        await writeIndexed({
          source,
          metadata,
          column,
          order,
          sink,
          keyValues: () => [],
          reorderBytes,
          onReorder: (d, t) => events.push([d, t]),
        })
        await sink.commit()
        return { bytes: sink.bytes, events }
      }
      const whole = await write()
      const windowed = await write(1) // (a row group a window)
      const groups = metadata.row_groups.length
      const leaves = metadata.row_groups[0]?.columns.length as number
      expect(groups).toBeGreaterThan(2)
      expect(whole.events.at(-1)).toEqual([leaves, leaves])
      expect(windowed.events.at(-1)).toEqual([groups * leaves, groups * leaves])
      expect(Buffer.from(windowed.bytes as Uint8Array).equals(Buffer.from(whole.bytes as Uint8Array))).toBe(true)
      await source.close()
    }
  })
})

describe('rows inside a list, when clustered (orderWithinLists)', () => {
  it('stores near vectors together and moves each code with its row', async () => {
    // one list of 64 rows from two far-apart groups, interleaved in row order (even rows near 0,
    // odd rows near 10), and a second list of 3 rows (under a leaf: left as it is)
    const dim = 4
    const rows = 67
    const vectors = new Float32Array(rows * dim)
    for (let r = 0; r < 64; r++) for (let j = 0; j < dim; j++) vectors[r * dim + j] = (r % 2) * 10 + ((r * 7 + j * 3) % 5) * 0.01
    const m = 2
    const lists = {
      listStart: Uint32Array.from([0, 64, 67]),
      rowIds: Uint32Array.from({ length: rows }, (_, i) => i),
      codes: Uint8Array.from({ length: rows * m }, (_, i) => (Math.floor(i / m) * 3 + (i % m)) & 255),
    }
    const run = async (kernels?: Kernels) => {
      const copy = { listStart: lists.listStart, rowIds: lists.rowIds.slice(), codes: lists.codes.slice() }
      await orderWithinLists(copy, vectors, (row) => row, dim, m, undefined, kernels)
      return copy
    }
    const ordered = await run()
    const first = Array.from(ordered.rowIds.subarray(0, 64))
    // each group in one half of the list (which half: the projection's direction)
    expect(new Set(first.slice(0, 32).map((r) => r % 2)).size).toBe(1)
    expect(new Set(first.slice(32).map((r) => r % 2)).size).toBe(1)
    expect([...first].sort((a, b) => a - b)).toEqual(Array.from({ length: 64 }, (_, i) => i))
    expect(Array.from(ordered.rowIds.subarray(64))).toEqual([64, 65, 66])
    for (const [e, row] of ordered.rowIds.entries())
      expect(Array.from(ordered.codes.subarray(e * m, (e + 1) * m))).toEqual([(row * 3) & 255, (row * 3 + 1) & 255])
    expect(await run()).toEqual(ordered) // deterministic
    // the build passes its own kernels: the wasm ones give the same distances, so the same order
    expect(await run(await loadKernels('wasm'))).toEqual(ordered)
  })
})

describe('what a read brings along (query/adjacent.ts)', () => {
  // five lists stored at 0, 100, 1,000, 1,100 and 5,000 (list 3 is empty)
  const start = Float64Array.from([0, 1000, 100, 1100, 5000])
  const end = Float64Array.from([100, 1100, 400, 1100, 5200])
  const extents = listExtents(start, end)

  it('adds the non-empty lists stored wholly between two probed lists closer than the gap', () => {
    expect(Array.from(extents.byStart)).toEqual([0, 2, 1, 4])
    // lists 0 and 1 are 900 bytes apart: list 2 lies between them
    expect(Array.from(withListsBetween(Uint32Array.from([1, 0]), extents, 1000))).toEqual([1, 0, 2])
    expect(Array.from(withListsBetween(Uint32Array.from([1, 0]), extents, 800))).toEqual([1, 0])
    // list 4 lies beyond the last probed list: never added
    expect(Array.from(withListsBetween(Uint32Array.from([0, 2]), extents, 1e6))).toEqual([0, 2])
    // one list probed: nothing between
    expect(Array.from(withListsBetween(Uint32Array.from([4]), extents, 1e6))).toEqual([4])
  })

  it("takes the rows whose pages lie wholly inside a stretch of the candidates' pages, as allowed", () => {
    // one list: rows 10..15 with pages of 100 bytes at 0, 100, 200, 900, 1000 and one of 300 at 1050
    const list: ListView = {
      rowIds: Uint32Array.from([10, 11, 12, 13, 14, 15]),
      pageOffsets: Float64Array.from([0, 100, 200, 900, 1000, 1050]),
      pageLengths: Uint32Array.from([100, 100, 100, 100, 50, 300]),
      codes: new Uint8Array(6),
    }
    const far: ListView = {
      rowIds: Uint32Array.from([20]),
      pageOffsets: Float64Array.from([9000]),
      pageLengths: Uint32Array.from([100]),
      codes: new Uint8Array(1),
    }
    const places = () => new Map<number, ListPlace>([10, 13].map((row) => [row, { list, at: row - 10 }]))
    // candidates 10 (0..100) and 13 (900..1000), 800 bytes apart
    expect(rowsAround([10, 13], places(), [list, far], undefined, 800).sort()).toEqual([10, 11, 12, 13])
    // no gap: each candidate's own page only
    expect(rowsAround([10, 13], places(), [list, far], undefined, 0)).toEqual([10, 13])
    // candidates 13 and 15, 50 bytes apart: row 14's page lies between them
    const near = new Map<number, ListPlace>([13, 15].map((row) => [row, { list, at: row - 10 }]))
    expect(rowsAround([13, 15], near, [list, far], undefined, 64)).toEqual([13, 14, 15])
    const allowed = new Uint8Array(30).fill(1)
    allowed[11] = 0
    const found = places()
    expect(rowsAround([10, 13], found, [list, far], allowed, 800).sort()).toEqual([10, 12, 13])
    expect(found.get(12)).toEqual({ list, at: 2 }) // placed for the read
  })

  it('the rows inside a stretch, in list order, whatever order a list keeps its pages in, a spilled row once (against the rule, page by page)', () => {
    const rand = mulberry32(21)
    // the rule itself, page by page: inside the last stretch starting at or before the page
    const reference = (
      candidates: number[],
      places: Map<number, ListPlace>,
      lists: ListView[],
      allowed: Uint8Array | undefined,
      gap: number,
    ) => {
      const pages = candidates.flatMap((row) => {
        const p = places.get(row)
        return p
          ? [
              {
                start: p.list.pageOffsets[p.at] as number,
                end: (p.list.pageOffsets[p.at] as number) + (p.list.pageLengths[p.at] as number),
              },
            ]
          : []
      })
      const spans = coalesce(pages, gap)
      const out: number[] = []
      for (const list of lists)
        for (let at = 0; at < list.rowIds.length; at++) {
          const start = list.pageOffsets[at] as number
          const span = spans.filter((s) => s.start <= start).at(-1)
          const row = list.rowIds[at] as number
          if (span && start + (list.pageLengths[at] as number) <= span.end && (!allowed || allowed[row]) && !out.includes(row))
            out.push(row)
        }
      return out
    }
    let ascendingLists = 0
    let shuffledLists = 0
    let farApart = 0
    let spilledTrials = 0
    let pastLastRows = 0
    for (let trial = 0; trial < 200; trial++) {
      // lists of rows whose pages are placed in list order or not, with gaps between them; in
      // half the trials some gaps are huge, so rowsAround's map of the stretches is coarse (a
      // bucket holds many pages, most of them in no stretch)
      const far = trial % 2 === 1
      if (far) farApart++
      const lists: ListView[] = []
      let row = 0
      let offset = 0
      for (let l = 0; l < 1 + Math.floor(rand() * 4); l++) {
        const n = Math.floor(rand() * 30)
        const offsets = Array.from({ length: n }, () => {
          offset += Math.floor(rand() * 300) + (far && rand() < 0.2 ? Math.floor(rand() * 1e12) : 0)
          const at = offset
          offset += 50 + Math.floor(rand() * 100)
          return at
        })
        const lengths = offsets.map(() => 50)
        if (rand() < 0.5) {
          // shuffled together (offsets and lengths), so pages no longer ascend in list order
          for (let i = n - 1; i > 0; i--) {
            const j = Math.floor(rand() * (i + 1))
            ;[offsets[i], offsets[j]] = [offsets[j] as number, offsets[i] as number]
          }
          shuffledLists++
        } else ascendingLists++
        lists.push({
          rowIds: Uint32Array.from({ length: n }, () => row++),
          pageOffsets: Float64Array.from(offsets),
          pageLengths: Uint32Array.from(lengths),
          codes: new Uint8Array(n),
        })
      }
      // in half the trials, rows spilled into a second list (its entries after the list's own,
      // the row's one page): a row may be in two lists, and a list's last row may not be its
      // largest — past the largest of the lists' last rows, at times
      if (trial % 4 >= 2) {
        const own = [...lists]
        for (const [l, list] of lists.entries()) {
          const other = own[(l + 1) % own.length] as ListView
          const picks =
            other === list ? [] : Array.from({ length: 1 + Math.floor(rand() * 3) }, () => Math.floor(rand() * other.rowIds.length))
          const spilled = [...new Set(picks)].filter((at) => at < other.rowIds.length)
          lists[l] = {
            rowIds: Uint32Array.from([...list.rowIds, ...spilled.map((at) => other.rowIds[at] as number)]),
            pageOffsets: Float64Array.from([...list.pageOffsets, ...spilled.map((at) => other.pageOffsets[at] as number)]),
            pageLengths: Uint32Array.from([...list.pageLengths, ...spilled.map((at) => other.pageLengths[at] as number)]),
            codes: new Uint8Array(list.rowIds.length + spilled.length),
          }
        }
        spilledTrials++
        const lastRows = lists.map((list) => list.rowIds.at(-1) ?? 0)
        if (Math.max(...lastRows) >>> 5 < (row - 1) >>> 5) pastLastRows++
      }
      const placesOf = () => {
        const places = new Map<number, ListPlace>()
        for (const list of lists)
          for (let at = 0; at < list.rowIds.length; at++) if (rand() < 0.15) places.set(list.rowIds[at] as number, { list, at })
        return places
      }
      const places = placesOf()
      const candidates = [...places.keys()]
      const allowed = rand() < 0.5 ? Uint8Array.from({ length: row }, () => (rand() < 0.8 ? 1 : 0)) : undefined
      const gap = Math.floor(rand() * 600)
      const want = reference(candidates, places, lists, allowed, gap)
      const got = rowsAround(candidates, new Map(places), lists, allowed, gap)
      expect(got).toEqual(want)
    }
    expect(ascendingLists).toBeGreaterThan(50)
    expect(shuffledLists).toBeGreaterThan(50)
    expect(farApart).toBe(100)
    expect(spilledTrials).toBe(100)
    expect(pastLastRows).toBeGreaterThan(5)
  })
})
