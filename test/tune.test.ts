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

describe('default nprobe measured on held-out queries (buildIndex tuneQueries)', () => {
  // one distribution: the file's rows, then queries the index never saw
  const all = clusteredVectors(ROWS + 2 * HELD_OUT, DIM, 41, 40)
  const rows = Array.from({ length: ROWS }, (_, i) => Array.from(all.subarray(i * DIM, (i + 1) * DIM)))
  const tune = Array.from({ length: HELD_OUT }, (_, i) => all.slice((ROWS + i) * DIM, (ROWS + i + 1) * DIM))
  const test = all.subarray((ROWS + HELD_OUT) * DIM)
  const dir = tempDir('pqs-tune-')
  const input = join(dir, 'rows.parquet')
  writeListFile(input, rows)

  it('probes fewer lists than the row-query floor, and still reaches recall@10 ≥ 0.95 on other unseen queries', async () => {
    const out = join(dir, 'held-out.parquet')
    const src = await fileSource(input)
    const summary = await buildIndex(src, await fileSink(out, input), { column: 'embedding', nlist: 240, tuneQueries: tune })
    await src.close()
    const p = summary.params
    const floor = nprobeFloor(p, ROWS)
    expect(p.nprobe).toBeLessThan(floor)

    const file = await fileSource(out)
    const index = await openIndex(file)
    let hits = 0
    const queries = HELD_OUT
    for (let q = 0; q < queries; q++) {
      const query = test.subarray(q * DIM, (q + 1) * DIM)
      const exact = rows
        .map((r, row) => ({ row, d: l2sq(query, 0, Float32Array.from(r), 0, DIM) }))
        .sort((a, b) => a.d - b.d || a.row - b.row)
        .slice(0, 10)
        .map((h) => h.row)
      const { results, probed } = await index.search(query, { k: 10 })
      expect(probed.length).toBe(p.nprobe)
      for (const r of results) if (exact.includes(r.row)) hits++
    }
    await file.close()
    const recall = hits / (queries * 10)
    console.log(
      `held-out tune: nprobe ${p.nprobe} of ${p.nlist} (row-query floor ${floor}), recall@10 ${recall.toFixed(3)} on ${queries} other unseen queries`,
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
