/**
 * Do rows of the data, each left out of its own answer, predict the recall of unseen queries?
 * (The build tunes the default nprobe on them when given no held-out queries.) For a shared
 * dataset: the index the build would make (train, encode, the in-memory search its tune step
 * uses), then recall@10 at a few nprobe, refine 10, for 200 random rows against 200 held-out
 * queries spread across the query set and the set's first 200 (for the word sets, stored in
 * frequency order, its most frequent words); and again with the 200 rows left out of training.
 *   npm run bench:rows -- wordnet-fasttext-words-100d cosine
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { loadKernels } from '../src/compute/backend.js'
import { l2sq } from '../src/compute/js.js'
import { mulberry32, sampleIndices } from '../src/compute/random.js'
import { TopK } from '../src/compute/topk.js'
import type { Metric } from '../src/index/model.js'
import { encodeAll, normalizeRows, resolveParams, trainModel } from '../src/index/train.js'
import { fileSource } from '../src/io/nodeFile.js'
import { describeEmbeddingColumn, readVectors } from '../src/parquet/embedding.js'
import { readMetadata } from '../src/parquet/footer.js'
import { memoryIndex } from '../src/query/memory.js'

const [name = 'wordnet-fasttext-words-100d', metricArg = 'cosine'] = process.argv.slice(2)
const metric = metricArg as Metric
if (metric !== 'l2' && metric !== 'cosine') throw new Error(`metric must be l2 or cosine, got ${metricArg}`)
const folder = join(import.meta.dirname, '../../../shared/data', name)
if (!existsSync(folder)) throw new Error(`${folder} is missing: this benchmark needs ../shared/data`)
const Q = 200

async function load(path: string) {
  const source = await fileSource(path)
  const metadata = await readMetadata(source, path)
  const vectors = await readVectors(source, metadata, describeEmbeddingColumn(metadata, 'embedding', path))
  await source.close()
  if (metric === 'cosine') normalizeRows(vectors.data, vectors.rowIds.length, vectors.dim, vectors.rowIds)
  return vectors
}
const base = await load(join(folder, 'base.parquet'))
const held = await load(join(folder, 'queries.parquet'))
const { dim } = base
const n = base.rowIds.length
const kernels = await loadKernels('wasm')
const vector = (data: Float32Array, i: number) => data.subarray(i * dim, (i + 1) * dim)

interface Query {
  q: Float32Array
  /** Its own row (left out of truth and results), or −1. */
  self: number
  truth: Set<number>
}
/** Exact 10 nearest rows by squared L2 (cosine: on unit vectors, the same order). */
function query(q: Float32Array, self: number): Query {
  const top = new TopK(10)
  for (let i = 0; i < n; i++) if (i !== self) top.push(l2sq(q, 0, base.data, i * dim, dim), i)
  return { q, self, truth: new Set(top.sorted().map((h) => h.row)) }
}
const queryRows = sampleIndices(n, Q, mulberry32(99))
const rows = Array.from(queryRows, (r) => query(vector(base.data, r), r))
const nq = held.rowIds.length
const stride = Math.max(1, Math.floor(nq / Q))
const spread = Array.from({ length: Math.min(Q, nq) }, (_, k) => query(vector(held.data, k * stride), -1))
const first = Array.from({ length: Math.min(Q, nq) }, (_, k) => query(vector(held.data, k), -1))

const nlist = resolveParams(n, n, dim, { metric }).nlist
const left = new Set(queryRows)
console.log(
  `${name} ${metric}: ${n} rows, nlist ${nlist}, refine 10; recall@10 of ${Q} rows (each left out of its own answer) and held-out queries`,
)
console.log('| training | nprobe | rows | held-out (spread) | held-out (first 200) |\n| --- | --- | --- | --- | --- |')
for (const variant of ['all rows', 'the 200 rows left out'] as const) {
  const keep =
    variant === 'all rows' ? Array.from({ length: n }, (_, i) => i) : Array.from({ length: n }, (_, i) => i).filter((i) => !left.has(i))
  const train = new Float32Array(keep.length * dim)
  for (const [i, r] of keep.entries()) train.set(vector(base.data, r), i * dim)
  const params = resolveParams(keep.length, keep.length, dim, { metric, nlist })
  const model = await trainModel(train, keep.length, params, { kernels })
  const lists = await encodeAll(
    model,
    base.data,
    n,
    Uint32Array.from({ length: n }, (_, i) => i),
    { kernels },
  )
  const index = memoryIndex(model, lists, (r) => vector(base.data, r), kernels)
  const recall = async (qs: Query[], nprobe: number) => {
    const found = await index.search(
      qs.map((x) => x.q),
      { k: 11, nprobe, refine: 10 },
    )
    let hits = 0
    for (const [i, r] of found.entries()) {
      const x = qs[i] as Query
      for (const h of r.results.filter((h) => h.row !== x.self).slice(0, 10)) if (x.truth.has(h.row)) hits++
    }
    return (hits / (qs.length * 10)).toFixed(3)
  }
  for (const f of [0.02, 0.05, 0.1, 0.2]) {
    const nprobe = Math.max(1, Math.round(f * nlist))
    console.log(
      `| ${variant} | ${nprobe} | ${await recall(rows, nprobe)} | ${await recall(spread, nprobe)} | ${await recall(first, nprobe)} |`,
    )
  }
}
