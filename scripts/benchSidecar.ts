/**
 * Sidecar vs embedded indexes on one dataset split into 8 files (wordnet, l2): recall@10 against
 * the shared ground truth, bytes and requests per query (local files; cold list cache per query).
 * Also times the sidecar build in one process vs the train / encode / merge steps.
 *   npm run bench:sidecar
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { join, resolve } from 'node:path'
import { parquetMetadataAsync } from 'hyparquet'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { buildIndex } from '../src/index/build.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { parseNpy } from '../src/io/npy.js'
import { describeEmbeddingColumn, readColumnRange, readVectors } from '../src/parquet/embedding.js'
import { SeekDataset } from '../src/search/dataset.js'
import { SidecarIndex } from '../src/search/sidecarIndex.js'

const root = resolve(import.meta.dirname, '../..')
const data = join(root, '../shared/data/wordnet-fasttext-words-100d')
if (!existsSync(data)) {
  console.log('needs ../shared/data')
  process.exit(0)
}
const dir = join(root, '.bench/split8')
mkdirSync(dir, { recursive: true })
const base = await fileSource(join(data, 'base.parquet'))
const bm = await parquetMetadataAsync(base)
const vectors = await readVectors(base, bm, describeEmbeddingColumn(bm, 'embedding'))
const ids = (await readColumnRange(base, bm, 'id', 0, vectors.rows)) as number[]
await base.close()
const parts = 8
const per = Math.ceil(vectors.rows / parts)
const dim = vectors.dim
const plain: string[] = []
const embedded: string[] = []
for (let p = 0; p < parts; p++) {
  const start = p * per
  const end = Math.min(vectors.rows, start + per)
  const path = join(dir, `part-${p}.parquet`)
  plain.push(path)
  embedded.push(join(dir, `part-${p}.indexed.parquet`))
  if (existsSync(embedded[p] as string)) continue
  const rows = Array.from({ length: end - start }, (_, i) => Array.from(vectors.data.subarray((start + i) * dim, (start + i + 1) * dim)))
  writeFileSync(
    path,
    new Uint8Array(
      parquetWriteBuffer({
        schema: [
          { name: 'root', num_children: 2 },
          { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
          { name: 'embedding', repetition_type: 'REQUIRED', converted_type: 'LIST', num_children: 1 },
          { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
          { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
        ],
        columnData: [
          { name: 'id', data: Int32Array.from(ids.slice(start, end)) },
          { name: 'embedding', data: rows },
        ],
      }),
    ),
  )
  const src = await fileSource(path)
  await buildIndex(src, await fileSink(embedded[p] as string, path), { column: 'embedding' })
  await src.close()
}
// the sidecar, built twice through the CLI: in one process, and as separate steps (train once,
// encode the 8 files as 2 concurrent processes of 1 thread — what a batch system would run — merge)
const bin = join(root, 'bin/parquetseek.js')
const run = (args: string[]) =>
  new Promise<number>((done, fail) => {
    const t0 = performance.now()
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d) => {
      stderr += d
    })
    child.on('close', (code) => (code === 0 ? done(performance.now() - t0) : fail(new Error(`${args[0]} exited ${code}: ${stderr}`))))
  })
const sidecarPath = join(dir, 'all.pqseek')
const oneShotMs = await run(['index', '--sidecar', sidecarPath, ...plain, '--column', 'embedding'])
const model = join(dir, 'model.pqmodel')
const trainMs = await run(['train', ...plain, '--column', 'embedding', '--out', model])
const partPaths = plain.map((_, p) => join(dir, `part-${p}.pqpart`))
const encodeStart = performance.now()
const encodeMs: number[] = []
let next = 0
await Promise.all(
  [0, 1].map(async () => {
    while (next < parts) {
      const p = next++
      encodeMs[p] = await run(['encode', '--model', model, plain[p] as string, '--out', partPaths[p] as string, '--threads', '1'])
    }
  }),
)
const encodeWall = performance.now() - encodeStart
const stepsPath = join(dir, 'all-steps.pqseek')
const mergeMs = await run(['merge', '--model', model, '--out', stepsPath, ...partPaths])
const same = Buffer.compare(readFileSync(sidecarPath), readFileSync(stepsPath)) === 0
const sec = (ms: number) => (ms / 1000).toFixed(1)
console.log(`sidecar build over ${parts} files, ${vectors.rows} rows × ${dim} (this machine, ${availableParallelism()} cores):`)
console.log(`  one process (index --sidecar): ${sec(oneShotMs)} s`)
console.log(
  `  steps: train ${sec(trainMs)} s · encode ${parts} files as 2 processes ${sec(encodeWall)} s wall (each ${sec(Math.min(...encodeMs))}–${sec(Math.max(...encodeMs))} s) · merge ${sec(mergeMs)} s = ${sec(trainMs + encodeWall + mergeMs)} s`,
)
console.log(`  same sidecar bytes: ${same ? 'yes' : 'NO'}\n`)
const qs = await fileSource(join(data, 'queries.parquet'))
const qm = await parquetMetadataAsync(qs)
const queries = await readVectors(qs, qm, describeEmbeddingColumn(qm, 'embedding'))
await qs.close()
const truth = parseNpy(new Uint8Array(readFileSync(join(data, 'gt_l2_top100_ids.npy')))).data as Int32Array
const n = 100
const recallOf = (found: number[], q: number) => {
  const want = new Set(truth.subarray(q * 100, q * 100 + 10))
  return found.filter((id) => want.has(id)).length / 10
}
console.log('| index | files | recall@10 | KiB / query | requests / query | index bytes |')
console.log('|---|---|---|---|---|---|')
{
  const files = await Promise.all(embedded.map((p) => fileSource(p)))
  const dataset = await SeekDataset.open(files)
  let recall = 0
  let bytes = 0
  let requests = 0
  for (let q = 0; q < n; q++) {
    for (const s of dataset.shards) s.clearCache()
    const r = await dataset.search(queries.data.subarray(q * dim, (q + 1) * dim), { k: 10 })
    recall += recallOf(
      r.results.map((h) => ids[h.shard * per + h.row] as number),
      q,
    )
    bytes += r.stats.bytes
    requests += r.stats.requests
  }
  const indexBytes = dataset.shards.reduce((s, x) => s + x.opened.location.length, 0)
  console.log(
    `| embedded (one per file) | ${parts} | ${(recall / n).toFixed(3)} | ${(bytes / n / 1024).toFixed(0)} | ${(requests / n).toFixed(1)} | ${(indexBytes / 2 ** 20).toFixed(1)} MiB |`,
  )
}
{
  const handles: Array<{ close(): Promise<void> }> = []
  const open = async (path: string) => {
    const s = await fileSource(path)
    handles.push(s)
    return s
  }
  const index = await SidecarIndex.open(await open(sidecarPath), async (name) => open(join(dir, name)))
  let recall = 0
  let bytes = 0
  let requests = 0
  for (let q = 0; q < n; q++) {
    const fresh = await SidecarIndex.open(await open(sidecarPath), async (name) => open(join(dir, name)))
    const r = await fresh.search(queries.data.subarray(q * dim, (q + 1) * dim), { k: 10 })
    recall += recallOf(
      r.results.map((h) => ids[plain.indexOf(join(dir, h.file)) * per + h.row] as number),
      q,
    )
    bytes += r.stats.bytes
    requests += r.stats.requests
  }
  console.log(
    `| sidecar (one over all) | ${parts} | ${(recall / n).toFixed(3)} | ${(bytes / n / 1024).toFixed(0)} | ${(requests / n).toFixed(1)} | ${(index.header.blobLength / 2 ** 20).toFixed(1)} MiB |`,
  )
}
