/**
 * Index quality against the reference: recall@10 of ParquetSeek's IVF-PQ and of Faiss's
 * IndexIVFPQ (residuals, 8-bit codes) built with the same nlist, m, nbits and number of training
 * rows, on every shared dataset, at the same nprobe — PQ alone (refine 1: the 10 best PQ
 * estimates, their distances exact) and re-ranked (ParquetSeek's tuned refine, Faiss's
 * IndexRefineFlat with that k_factor). Every query probes exactly nprobe lists: ParquetSeek's
 * adaptive probing, its re-rank cut and its scan of adjacent lists are off, so both scan the same
 * number of lists. Faiss is Debian's python3-faiss, run by /usr/bin/python3 (scripts/faissReference.py).
 *   npm run bench:faiss [-- --threads 2]
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { recallAtK } from '../src/compute/metric.js'
import { buildIndex } from '../src/index/build.js'
import type { Metric } from '../src/index/model.js'
import { fileSource } from '../src/io/nodeFile.js'
import { encodeNpy, parseNpy } from '../src/io/npy.js'
import { MemorySink } from '../src/io/sink.js'
import { fromBytes } from '../src/io/source.js'
import { describeEmbeddingColumn, readVectors, type Vectors } from '../src/parquet/embedding.js'
import { readMetadata } from '../src/parquet/footer.js'
import { openIndex } from '../src/search/engine.js'

const root = resolve(import.meta.dirname, '../..')
const shared = join(root, '../shared/data')
const PYTHON = '/usr/bin/python3'
const K = 10
const NPROBES = [1, 2, 4, 8, 16, 32, 64]

// m must divide the dimension for Faiss: the defaults do (⌈d/4⌉ up to 256-d, ⌈d/8⌉ above) but for
// GloVe's 25-d (7), where both take 5
const cases: Array<{ name: string; metric: Metric; m?: number }> = [
  { name: 'wordnet-fasttext-words-100d', metric: 'l2' },
  { name: 'sift-128-ngt5k', metric: 'l2' },
  { name: 'mnist-784-t10k', metric: 'l2' },
  { name: 'glove-twitter-25d-12k', metric: 'cosine', m: 5 },
  { name: 'sap-fiori-docs-minilm-384', metric: 'cosine' },
]

const faiss = spawnSync(PYTHON, ['-c', 'import faiss'], { encoding: 'utf8' })
if (faiss.status !== 0) {
  console.log(`needs Faiss for ${PYTHON} (Debian: apt-get install python3-faiss): ${faiss.stderr.trim().split('\n').pop()}`)
  process.exit(0)
}
if (!existsSync(shared)) {
  console.log(`needs the shared datasets (${shared})`)
  process.exit(0)
}

async function vectorsOf(path: string): Promise<Vectors> {
  const source = await fileSource(path)
  try {
    const metadata = await readMetadata(source, path)
    return await readVectors(source, metadata, describeEmbeddingColumn(metadata, 'embedding'))
  } finally {
    await source.close()
  }
}

const work = mkdtempSync(join(tmpdir(), 'pqs-faiss-'))
console.log('| data | metric | rows | nlist | m | refine | nprobe | ParquetSeek PQ | Faiss PQ | ParquetSeek refined | Faiss refined |')
console.log('|---|---|---|---|---|---|---|---|---|---|---|')
try {
  for (const c of cases) {
    const dir = join(shared, c.name)
    const base = await vectorsOf(join(dir, 'base.parquet'))
    const queries = await vectorsOf(join(dir, 'queries.parquet'))
    const truthDist = parseNpy(new Uint8Array(readFileSync(join(dir, `gt_${c.metric === 'l2' ? 'l2' : 'cos'}_top100_dist.npy`))))
    const width = truthDist.shape[1] as number
    const kth = Float64Array.from({ length: queries.rowIds.length }, (_, q) => Number(truthDist.data[q * width + K - 1]))

    const input = await fileSource(join(dir, 'base.parquet'))
    const sink = new MemorySink()
    const { params } = await buildIndex(input, sink, { column: 'embedding', metric: c.metric, ...(c.m ? { m: c.m } : {}) })
    await input.close()
    const index = await openIndex(fromBytes(sink.bytes as Uint8Array, `${c.name}.indexed.parquet`))
    const refine = params.refine ?? 1
    const nprobes = NPROBES.filter((p) => p <= params.nlist)
    const qs = Array.from({ length: queries.rowIds.length }, (_, q) => queries.data.subarray(q * queries.dim, (q + 1) * queries.dim))
    // (a result counts when it is as near as the query's 10th true neighbour: no id sets)
    const none = qs.map(() => [])
    const ours = async (nprobe: number, r: number) => {
      const found = await index.searchBatch(qs, { k: K, nprobe, refine: r, slack: Infinity, refineSlack: Infinity, adjacent: false })
      return recallAtK(
        found.map((f) => ({ rows: f.results.map((h) => h.row), distances: f.results.map((h) => h.distance) })),
        none,
        K,
        kth,
      )
    }

    const files = { base: join(work, 'base.npy'), queries: join(work, 'queries.npy'), kth: join(work, 'kth.npy') }
    writeFileSync(files.base, encodeNpy(base.data, base.rowIds.length, base.dim))
    writeFileSync(files.queries, encodeNpy(queries.data, queries.rowIds.length, queries.dim))
    writeFileSync(files.kth, encodeNpy(Float32Array.from(kth), kth.length, 1))
    const args = {
      ...files,
      metric: c.metric,
      nlist: params.nlist,
      m: params.m,
      nbits: params.nbits,
      sample: params.sample,
      refine,
      nprobes,
    }
    const run = spawnSync(PYTHON, [join(root, 'scripts/faissReference.py'), JSON.stringify(args)], { encoding: 'utf8' })
    if (run.status !== 0) throw new Error(`faissReference.py: ${run.stderr}`)
    const ref = JSON.parse(run.stdout) as { nprobe: number[]; pq: number[]; refined: number[] }
    for (const [i, nprobe] of nprobes.entries()) {
      const cells = [await ours(nprobe, 1), ref.pq[i], await ours(nprobe, refine), ref.refined[i]].map((r) => (r as number).toFixed(3))
      console.log(
        `| ${c.name} | ${c.metric} | ${base.rowIds.length.toLocaleString('en-US')} | ${params.nlist} | ${params.m} | ${refine} | ${nprobe} | ${cells.join(' | ')} |`,
      )
    }
    index.close()
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
