import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parquetMetadataAsync } from 'hyparquet'
import { afterAll, describe, expect, it } from 'vitest'
import { SHARED_SETS } from '../scripts/sharedSets.js'
import { serveFile } from '../src/cli/rangeServer.js'
import { buildIndex } from '../src/index/build.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { parseNpy } from '../src/io/npy.js'
import { describeEmbeddingColumn, readColumnRange, readVectors } from '../src/parquet/embedding.js'
import { openIndex } from '../src/search/engine.js'
import { SHARED, tempDir } from './helpers/fixtures.js'

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
