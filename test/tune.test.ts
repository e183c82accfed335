import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { l2sq } from '../src/compute/js.js'
import { buildIndex, nprobeFloor } from '../src/index/build.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { MemorySink } from '../src/io/sink.js'
import { openIndex } from '../src/search/engine.js'
import { clusteredVectors, tempDir, writeListFile } from './helpers/fixtures.js'

const DIM = 16
const ROWS = 12_000
const HELD_OUT = 200

/** recall@10 of the index's default search on `queries` (n × DIM) against exact search over `rows` (row-major). */
async function defaultRecall(path: string, rows: Float32Array, queries: Float32Array, n: number, nprobe: number) {
  const file = await fileSource(path)
  const index = await openIndex(file)
  let hits = 0
  for (let q = 0; q < n; q++) {
    const query = queries.subarray(q * DIM, (q + 1) * DIM)
    const exact = Array.from({ length: rows.length / DIM }, (_, row) => ({ row, d: l2sq(query, 0, rows, row * DIM, DIM) }))
      .sort((a, b) => a.d - b.d || a.row - b.row)
      .slice(0, 10)
      .map((h) => h.row)
    const { results, probed } = await index.search(query, { k: 10 })
    expect(probed.length).toBe(nprobe)
    for (const r of results) if (exact.includes(r.row)) hits++
  }
  await file.close()
  return hits / (n * 10)
}

describe('default nprobe measured on rows of the data, each left out of its own answer', () => {
  const rows = 80_000
  const nlist = 400
  // wide clusters that overlap, as real embeddings do: recall needs more lists than the floor
  const all = clusteredVectors(rows + HELD_OUT, DIM, 43, 60, 10)
  const dir = tempDir('pqs-tune-rows-')
  const input = join(dir, 'rows.parquet')
  writeListFile(
    input,
    Array.from({ length: rows }, (_, i) => Array.from(all.subarray(i * DIM, (i + 1) * DIM))),
  )

  it('probes what recall on rows needs, above the floor and far below a share of the lists, and reaches recall@10 ≥ 0.95 on unseen queries', async () => {
    const out = join(dir, 'rows.indexed.parquet')
    const src = await fileSource(input)
    const summary = await buildIndex(src, await fileSink(out, input), { column: 'embedding', nlist })
    await src.close()
    const p = summary.params
    // the measurement on rows sets the default: above the floor (4,096 entries: 21 lists here),
    // far below the third of the lists that was the floor before v2 (134)
    expect(nprobeFloor(p, rows)).toBe(21)
    expect(p.nprobe).toBeGreaterThan(21)
    expect(p.nprobe).toBeLessThanOrEqual(nlist / 8)
    const recall = await defaultRecall(out, all.subarray(0, rows * DIM), all.subarray(rows * DIM), HELD_OUT, p.nprobe as number)
    console.log(
      `rows tune: nprobe ${p.nprobe} of ${p.nlist}, tuned recall ${p.tunedRecall}, recall@10 ${recall.toFixed(3)} on ${HELD_OUT} unseen queries`,
    )
    expect(recall).toBeGreaterThanOrEqual(0.95)
  }, 120_000)
})

describe('default nprobe measured on held-out queries (buildIndex tuneQueries)', () => {
  // one distribution: the file's rows, then queries the index never saw
  const all = clusteredVectors(ROWS + 2 * HELD_OUT, DIM, 41, 40)
  const rows = Array.from({ length: ROWS }, (_, i) => Array.from(all.subarray(i * DIM, (i + 1) * DIM)))
  const tune = Array.from({ length: HELD_OUT }, (_, i) => all.slice((ROWS + i) * DIM, (ROWS + i + 1) * DIM))
  const test = all.subarray((ROWS + HELD_OUT) * DIM)
  const dir = tempDir('pqs-tune-')
  const input = join(dir, 'rows.parquet')
  writeListFile(input, rows)

  it('probes fewer lists than the floor of rows tuning, and still reaches recall@10 ≥ 0.95 on other unseen queries', async () => {
    const out = join(dir, 'held-out.parquet')
    const src = await fileSource(input)
    const summary = await buildIndex(src, await fileSink(out, input), { column: 'embedding', nlist: 240, tuneQueries: tune })
    await src.close()
    const p = summary.params
    const floor = nprobeFloor(p, ROWS)
    expect(p.nprobe).toBeLessThan(floor)

    const queries = HELD_OUT
    const recall = await defaultRecall(out, all.subarray(0, ROWS * DIM), test, queries, p.nprobe as number)
    console.log(
      `held-out tune: nprobe ${p.nprobe} of ${p.nlist} (rows tuning's floor ${floor}), recall@10 ${recall.toFixed(3)} on ${queries} other unseen queries`,
    )
    expect(recall).toBeGreaterThanOrEqual(0.95)
  })

  it('a streaming build (vectors over the memory budget) measures on them too', async () => {
    const src = await fileSource(input)
    const summary = await buildIndex(src, new MemorySink(), { column: 'embedding', nlist: 240, tuneQueries: tune, memoryBytes: 64 << 10 })
    await src.close()
    expect(summary.streamed).toBe(true)
    expect(summary.params.nprobe).toBeLessThan(nprobeFloor(summary.params, ROWS))
    expect(summary.params.tunedRecall).toBeGreaterThanOrEqual(0.95)
  })

  it('refuses a tune query of another dimension, naming it', async () => {
    const src = await fileSource(input)
    const ragged = [new Float32Array(DIM), new Float32Array(DIM - 1)]
    await expect(buildIndex(src, new MemorySink(), { column: 'embedding', nlist: 16, tuneQueries: ragged })).rejects.toThrow(
      /tune query 1 has 15 numbers; the column's vectors have 16/,
    )
    await src.close()
  })
})
