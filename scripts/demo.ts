/**
 * First half of the README's main command: generates a sample Parquet file with a vector
 * column into public/demo/, builds its indexed copy beside it, and prints what was built plus an
 * in-memory recall check; `npm start` then serves the app, which opens that copy (?src=).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { loadKernels } from '../src/compute/backend.js'
import { buildIndex } from '../src/index/build.js'
import { mulberry32 } from '../src/index/random.js'
import { encodeAll, resolveParams, trainModel } from '../src/index/train.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { searchExact, searchInMemory } from '../src/search/memory.js'

const root = resolve(import.meta.dirname, '../..')
const dir = join(root, 'public/demo')
const input = join(dir, 'sample.parquet')
const output = join(dir, 'sample.indexed.parquet')
const rows = 20000
const dim = 64

function sampleVectors(): Float32Array {
  const rand = mulberry32(2026)
  const centres = Float32Array.from({ length: 100 * dim }, () => rand() * 2 - 1)
  const v = new Float32Array(rows * dim)
  for (let i = 0; i < rows; i++) {
    const c = Math.floor(rand() * 100)
    for (let j = 0; j < dim; j++) v[i * dim + j] = (centres[c * dim + j] as number) + (rand() - 0.5) * 0.4
  }
  return v
}

mkdirSync(dir, { recursive: true })
const vectors = sampleVectors()
if (!existsSync(input)) {
  const buf = parquetWriteBuffer({
    schema: [
      { name: 'root', num_children: 3 },
      { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
      { name: 'title', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: 'embedding', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'FLOAT', repetition_type: 'OPTIONAL' },
    ],
    columnData: [
      { name: 'id', data: Int32Array.from({ length: rows }, (_, i) => i) },
      { name: 'title', data: Array.from({ length: rows }, (_, i) => `sample item ${i}`) },
      { name: 'embedding', data: Array.from({ length: rows }, (_, i) => Array.from(vectors.subarray(i * dim, (i + 1) * dim))) },
    ],
    rowGroupSize: 4096,
  })
  writeFileSync(input, new Uint8Array(buf))
}

const source = await fileSource(input)
const t0 = performance.now()
const summary = await buildIndex(source, await fileSink(output, input), {
  column: 'embedding',
  onProgress: ({ phase, done, total }) => {
    if (done === total || done % 4096 === 0) process.stderr.write(`  ${phase} ${done}/${total}\n`)
  },
})
await source.close()
const p = summary.params
console.log(`\nindexed ${input}\n     → ${output}`)
console.log(`${p.rows} rows × ${p.dim}-d, ${p.metric}, nlist ${p.nlist}, m ${p.m} bytes/vector`)
console.log(
  `file ${(summary.outputBytes / 2 ** 20).toFixed(1)} MiB, index ${(summary.indexBytes / 2 ** 20).toFixed(2)} MiB, built in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
)

// In-memory quality check with the same parameters: IVF-PQ + exact re-rank vs brute force.
const rowIds = Uint32Array.from({ length: rows }, (_, i) => i)
const params = resolveParams(rows, rows, dim, {})
const kernels = await loadKernels()
const model = await trainModel(vectors, rows, params, { kernels })
const lists = await encodeAll(model, vectors, rows, rowIds, { kernels })
let hits = 0
const queries = 100
for (let q = 0; q < queries; q++) {
  const query = vectors.subarray(q * 97 * dim, (q * 97 + 1) * dim).map((v, j) => v + ((q + j) % 7) * 0.01)
  const got = searchInMemory(model, lists, (r) => vectors.subarray(r * dim, (r + 1) * dim), query, { k: 10, nprobe: 16, refine: 10 })
  const want = new Set(searchExact('l2', vectors, rowIds, query, 10).map((h) => h.row))
  hits += got.filter((h) => want.has(h.row)).length
}
console.log(`recall@10 over ${queries} queries (nprobe 16, refine 10): ${(hits / (queries * 10)).toFixed(3)}`)
console.log(`\nnext: npx parquetseek info ${output}`)
console.log('the app (starting now): http://127.0.0.1:4173/?src=demo/sample.indexed.parquet')
