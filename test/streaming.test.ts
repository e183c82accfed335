import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildIndex } from '../src/index/build.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { searchExact } from '../src/query/memory.js'
import { openIndex } from '../src/search/engine.js'
import { clusteredVectors, duckdb, tempDir, testSource, writeListFile } from './helpers/fixtures.js'

describe('streaming build (vectors over the memory budget)', () => {
  it('builds in two passes a valid index of the same quality, with every row indexed and nulls skipped', async () => {
    const dir = tempDir('pqs-stream-')
    const rows = 6000
    const dim = 64 // 1.5 MiB of vectors
    const v = clusteredVectors(rows, dim, 21)
    const input = join(dir, 'in.parquet')
    const vectors = Array.from({ length: rows }, (_, i) => (i % 997 === 5 ? null : Array.from(v.subarray(i * dim, (i + 1) * dim))))
    writeListFile(input, vectors, { title: Array.from({ length: rows }, (_, i) => `t${i}`) })
    const summaries = []
    const indexes = []
    for (const [name, memoryBytes] of [
      ['memory', undefined],
      ['streamed', 1 << 20],
    ] as const) {
      const out = join(dir, `${name}.parquet`)
      const src = await fileSource(input)
      summaries.push(await buildIndex(src, await fileSink(out, input), { column: 'embedding', skipInvalid: true, memoryBytes }))
      await src.close()
      indexes.push(await openIndex(await testSource(out)))
    }
    const [inMemory, streamed] = summaries
    expect(inMemory?.streamed).toBe(false)
    expect(streamed?.streamed).toBe(true)
    expect(streamed?.skippedRows.map((r) => r.row)).toEqual(inMemory?.skippedRows.map((r) => r.row))
    expect(streamed?.params.indexedRows).toBe(rows - 7)
    expect(streamed?.params.nlist).toBe(inMemory?.params.nlist)
    expect(streamed?.params.tunedRecall).toBeGreaterThan(0.9)
    // recall@10 of unseen queries against exact search, with each index's own defaults
    const data = new Float32Array(rows * dim)
    const ids: number[] = []
    vectors.forEach((x, i) => {
      if (x) {
        data.set(x, ids.length * dim)
        ids.push(i)
      }
    })
    const queries = clusteredVectors(50, dim, 22)
    for (const index of indexes) {
      let hits = 0
      for (let q = 0; q < 50; q++) {
        const query = queries.subarray(q * dim, (q + 1) * dim)
        const truth = new Set(searchExact('l2', data, Uint32Array.from(ids), query, 10).map((h) => h.row))
        for (const h of (await index.search(query, { k: 10 })).results) if (truth.has(h.row)) hits++
      }
      expect(hits / 500).toBeGreaterThanOrEqual(0.95)
    }
    // DuckDB reads the streamed file like the input
    const db = await duckdb()
    const [[diff]] = (await db.rows(
      `SELECT count(*) FROM (SELECT * FROM '${input}' EXCEPT ALL SELECT * FROM '${join(dir, 'streamed.parquet')}')`,
    )) as [[bigint]]
    db.close()
    expect(Number(diff)).toBe(0)
    // a device that cannot give even the streaming build its codes is refused up front, with sizes
    const src = await fileSource(input)
    await expect(
      buildIndex(src, await fileSink(join(dir, 'refused.parquet'), input), {
        column: 'embedding',
        skipInvalid: true,
        memoryLimitBytes: 64 << 10,
      }),
    ).rejects.toThrow(
      /indexing needs about \d+ MiB here \(6000 rows × \d+ bytes of codes and ids, plus the largest row group\), more than the 1 MiB this device allows/,
    )
    await src.close()
  })
})
