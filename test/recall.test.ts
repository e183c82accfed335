import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parquetMetadataAsync } from 'hyparquet'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { afterAll, describe, expect, it } from 'vitest'
import { SHARED_SETS } from '../scripts/sharedSets.js'
import { serveFile } from '../src/cli/rangeServer.js'
import { recallAtK } from '../src/compute/metric.js'
import { buildIndex } from '../src/index/build.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { parseNpy } from '../src/io/npy.js'
import { describeEmbeddingColumn, readColumnRange, readVectors } from '../src/parquet/embedding.js'
import { searchExact } from '../src/query/memory.js'
import { openIndex } from '../src/search/engine.js'
import { duckdb, SHARED, tempDir } from './helpers/fixtures.js'

const cases = SHARED_SETS
const QUERIES = 100
const dir = tempDir('pqs-recall-')
const closers: Array<() => Promise<void>> = []
afterAll(async () => {
  for (const c of closers) await c()
})

describe.runIf(existsSync(SHARED))('recall@10 with default parameters against ../shared/data ground truth (needs ../shared/data)', () => {
  it.each(cases)(
    '%s %s: ≥ 0.95',
    async (name, metric) => {
      const base = join(SHARED, name, 'base.parquet')
      const out = join(dir, `${name}.${metric}.parquet`)
      const src = await fileSource(base)
      await buildIndex(src, await fileSink(out, base), { column: 'embedding', metric })
      await src.close()
      const file = await fileSource(out)
      closers.push(() => file.close())
      const index = await openIndex(file)
      const q = await fileSource(join(SHARED, name, 'queries.parquet'))
      const qm = await parquetMetadataAsync(q)
      const queries = await readVectors(q, qm, describeEmbeddingColumn(qm, 'embedding'))
      await q.close()
      const ids = (await readColumnRange(file, index.opened.metadata, 'id', 0, index.rows)) as number[]
      const truth = parseNpy(new Uint8Array(readFileSync(join(SHARED, name, `gt_${metric === 'cosine' ? 'cos' : 'l2'}_top100_ids.npy`))))
        .data as Int32Array
      // queries spread over the whole held-out set: the sets are random splits, but some are
      // stored in id order, which is frequency order for the word sets (wordnet's first 100 are
      // its most frequent words, harder queries: 0.939 at defaults where queries 500–599 give 0.991)
      const n = Math.min(QUERIES, queries.rowIds.length)
      const stride = Math.floor(queries.rowIds.length / n)
      const picked = Array.from({ length: n }, (_, i) => i * stride)
      const vectors = picked.map((q) => queries.data.subarray(q * queries.dim, (q + 1) * queries.dim))
      const batch = await index.searchBatch(vectors, { k: 10 })
      let hits = 0
      batch.forEach((r, i) => {
        const q = picked[i] as number
        const want = new Set(truth.subarray(q * 100, q * 100 + 10))
        for (const h of r.results) if (want.has(ids[h.row] as number)) hits++
      })
      const recall = hits / (n * 10)
      const probed = batch[0]?.probed.length ?? 0
      console.log(
        `${name} ${metric}: recall@10 ${recall.toFixed(3)} (nlist ${index.params.nlist}, default nprobe ${probed}, m ${index.params.m})`,
      )
      expect(index.backend).toBe('wasm')
      expect(recall).toBeGreaterThanOrEqual(0.95)
      // the defaults are IVF, not a scan of everything: on an index of 200 lists or more, each
      // query probes a strict subset (glove: 357 lists, wordnet: 1,000)
      if (index.params.nlist >= 200) for (const r of batch) expect(r.probed.length).toBeLessThan(index.params.nlist)
      // wordnet's words differ widely in how many lists hold their neighbours (frequent words
      // many, rare ones few): for cosine the tune stores adaptive probing and each query probes
      // the lists about as near as its nearest (l2, with spilled rows: 70 lists each on 2026-12-04,
      // adaptive probing priced no lower)
      if (name === 'wordnet-fasttext-words-100d' && metric === 'cosine') {
        expect(index.params.slack).toBeGreaterThan(0)
        expect(new Set(batch.map((r) => r.probed.length)).size).toBeGreaterThan(1)
      }
      // the TypeScript reference returns the same rows and distances, to the bit
      const reference = await openIndex(file, { backend: 'js' })
      const again = await reference.searchBatch(vectors, { k: 10 })
      expect(again.map((r) => r.results)).toEqual(batch.map((r) => r.results))
      expect(again[0]?.stats.backend).toBe('js')
    },
    300_000,
  )
})

describe.runIf(existsSync(SHARED))('a query on an S3-style host at default settings (needs ../shared/data)', () => {
  it('wordnet cosine, rows stored list by list: ≤ 12 requests a warm query over 6 connections, recall@10 ≥ 0.95', async () => {
    // the hardest shared set for requests: a fifth of its lists probed; the tune step prices the
    // reads as an S3-style host gets them (refine 5 → 3 took it from 14.1 to 10.2 requests)
    const name = 'wordnet-fasttext-words-100d'
    const base = join(SHARED, name, 'base.parquet')
    const out = join(dir, `${name}.clustered.parquet`)
    const src = await fileSource(base)
    await buildIndex(src, await fileSink(out, base), { column: 'embedding', metric: 'cosine', clusterRows: true })
    await src.close()
    const server = await serveFile(out, { host: 's3' })
    closers.push(() => server.close())
    const index = await openIndex(`${server.url}/wordnet.parquet`, { connections: 6 })
    const q = await fileSource(join(SHARED, name, 'queries.parquet'))
    const qm = await parquetMetadataAsync(q)
    const queries = await readVectors(q, qm, describeEmbeddingColumn(qm, 'embedding'))
    await q.close()
    const local = await fileSource(out)
    const ids = (await readColumnRange(local, index.opened.metadata, 'id', 0, index.rows)) as number[]
    await local.close()
    const truth = parseNpy(new Uint8Array(readFileSync(join(SHARED, name, 'gt_cos_top100_ids.npy')))).data as Int32Array
    const n = 100
    const stride = Math.floor(queries.rowIds.length / n)
    await index.search(queries.data.subarray(0, queries.dim), { k: 10 }) // the open (which learns the host has no multi-range) and a first search
    let [requests, hits] = [0, 0]
    for (let i = 0; i < n; i++) {
      const at = i * stride
      index.clearCache() // each query pays for its own lists
      const r = await index.search(queries.data.subarray(at * queries.dim, (at + 1) * queries.dim), { k: 10 })
      requests += r.stats.requests
      const want = new Set(truth.subarray(at * 100, at * 100 + 10))
      for (const h of r.results) if (want.has(ids[h.row] as number)) hits++
    }
    console.log(`${name} cosine, clustered, s3: ${(requests / n).toFixed(1)} requests a query, recall@10 ${(hits / (n * 10)).toFixed(3)}`)
    expect(requests / n).toBeLessThanOrEqual(12)
    expect(hits / (n * 10)).toBeGreaterThanOrEqual(0.95)
    expect(index.params.nprobe).toBeLessThan(index.params.nlist)
  }, 300_000)
})

describe.runIf(existsSync(SHARED))('quantized vectors at default settings (needs ../shared/data)', () => {
  it('glove-twitter as int8 (DuckDB TINYINT[]) and as half floats (FLOAT16), rows stored list by list: recall@10 ≥ 0.95 against exact search of the same values', async () => {
    const name = 'glove-twitter-25d-12k'
    const db = await duckdb()
    const quantized = (file: string) =>
      `SELECT * REPLACE (list_transform(embedding, x -> round(x * 20)::TINYINT) AS embedding) FROM '${file}'`
    const inputs: Record<string, { base: string; queries: string }> = {
      int8: { base: join(dir, 'glove-int8.parquet'), queries: join(dir, 'glove-int8-q.parquet') },
      half: { base: join(dir, 'glove-half.parquet'), queries: join(dir, 'glove-half-q.parquet') },
    }
    try {
      // glove's values lie within ±6.4: × 20 fits an int8
      await db.run(`COPY (${quantized(join(SHARED, name, 'base.parquet'))}) TO '${inputs.int8?.base}'`)
      await db.run(`COPY (${quantized(join(SHARED, name, 'queries.parquet'))}) TO '${inputs.int8?.queries}'`)
    } finally {
      db.close()
    }
    // half floats as pyarrow stores numpy float16 (hyparquet-writer: FIXED_LEN_BYTE_ARRAY(2), FLOAT16)
    for (const [from, to] of [
      ['base.parquet', inputs.half?.base],
      ['queries.parquet', inputs.half?.queries],
    ] as const) {
      const src = await fileSource(join(SHARED, name, from))
      const md = await parquetMetadataAsync(src)
      const v = await readVectors(src, md, describeEmbeddingColumn(md, 'embedding'))
      await src.close()
      const bytes = parquetWriteBuffer({
        schema: [
          { name: 'root', num_children: 1 },
          { name: 'embedding', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
          { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
          { name: 'element', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 2, logical_type: { type: 'FLOAT16' }, repetition_type: 'OPTIONAL' },
        ],
        columnData: [{ name: 'embedding', data: Array.from(v.rowIds, (_, i) => Array.from(v.data.subarray(i * v.dim, (i + 1) * v.dim))) }],
      })
      writeFileSync(to as string, new Uint8Array(bytes))
    }
    for (const [kind, { base, queries }] of Object.entries(inputs)) {
      const out = join(dir, `glove-${kind}.indexed.parquet`)
      const src = await fileSource(base)
      await buildIndex(src, await fileSink(out, base), { column: 'embedding', metric: 'cosine', clusterRows: true })
      await src.close()
      const file = await fileSource(out)
      closers.push(() => file.close())
      const index = await openIndex(file)
      expect(index.opened.column.element).toBe(kind === 'int8' ? 'INT8' : 'FLOAT16')
      // the stored values, decoded by hyparquet (not our page decoder), are the truth's
      const stored = await readVectors(file, index.opened.metadata, index.opened.column)
      const q = await fileSource(queries)
      const qm = await parquetMetadataAsync(q)
      const qv = await readVectors(q, qm, describeEmbeddingColumn(qm, 'embedding'))
      await q.close()
      const n = 100
      const stride = Math.floor(qv.rowIds.length / n)
      const vectors = Array.from({ length: n }, (_, i) => qv.data.slice(i * stride * qv.dim, (i * stride + 1) * qv.dim))
      const truth = vectors.map((v) => searchExact('cosine', stored.data, stored.rowIds, v, 10))
      const batch = await index.searchBatch(vectors, { k: 10 })
      const recall = recallAtK(
        batch.map((r) => ({ rows: r.results.map((h) => h.row), distances: r.results.map((h) => h.distance) })),
        truth.map((t) => t.map((h) => h.row)),
        10,
        Float64Array.from(truth, (t) => t[9]?.distance ?? Number.POSITIVE_INFINITY),
      )
      const probed = batch.reduce((sum, r) => sum + r.probed.length, 0) / n
      console.log(`${name} as ${kind}: recall@10 ${recall.toFixed(3)} (nlist ${index.params.nlist}, ${probed.toFixed(1)} lists a query)`)
      expect(recall).toBeGreaterThanOrEqual(0.95)
      // IVF at work: a query probes a small share of the lists (adaptive probing, the tuned slack)
      expect(probed).toBeLessThan(index.params.nlist / 4)
    }
  }, 300_000)
})
