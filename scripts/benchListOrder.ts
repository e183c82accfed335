/**
 * How many stretches of the file a query's probed lists form under each storage order of the
 * lists (docs/FORMAT.md "Storage order"): id order, the nearest-centroid walk, the grouped walk
 * used over 4,096 lists. Stretches are merged across gaps up to REQUEST_BYTES, as the read
 * planner does on a host that answers one range a request: fewer stretches, fewer requests.
 *   npm run bench:order -- <indexed file> <queries.parquet> [nprobe]
 */
import { loadKernels } from '../src/compute/backend.js'
import { kernelKind, prepareQuery } from '../src/compute/metric.js'
import { probe } from '../src/compute/probe.js'
import { groupedWalk, storageOrder } from '../src/index/blob.js'
import { fileSource } from '../src/io/nodeFile.js'
import { REQUEST_BYTES } from '../src/io/ranges.js'
import { describeEmbeddingColumn, readVectors } from '../src/parquet/embedding.js'
import { readMetadata } from '../src/parquet/footer.js'
import { openIndex } from '../src/search/engine.js'

const [path, queriesPath, nprobeArg] = process.argv.slice(2)
if (!path || !queriesPath) throw new Error('usage: bench:order -- <indexed file> <queries.parquet> [nprobe]')
const file = await fileSource(path)
const index = await openIndex(file)
const { centroids, params } = index.opened.model
const { nlist, dim, metric } = params
const nprobe = Number(nprobeArg ?? params.nprobe ?? nlist)
const lengths = index.opened.directory.map((d) => d.length)
const qs = await fileSource(queriesPath)
const qm = await readMetadata(qs, queriesPath)
const held = await readVectors(qs, qm, describeEmbeddingColumn(qm, 'embedding', queriesPath))
await qs.close()
const count = Math.min(100, held.rowIds.length)
const queries = Array.from({ length: count }, (_, i) => prepareQuery(held.data.slice(i * dim, (i + 1) * dim), metric))
const probes = probe(await loadKernels('wasm'), queries, centroids, nlist, kernelKind(metric), nprobe)

function stretches(order: ArrayLike<number>) {
  const offset = new Float64Array(nlist)
  let at = 0
  for (let i = 0; i < order.length; i++) {
    const l = order[i] as number
    offset[l] = at
    at += lengths[l] as number
  }
  let runs = 0
  let bytes = 0
  for (const p of probes) {
    const ranges = Array.from(p, (l) => [offset[l] as number, (offset[l] as number) + (lengths[l] as number)] as [number, number]).sort(
      (a, b) => a[0] - b[0],
    )
    let run: [number, number] | undefined
    for (const r of ranges) {
      if (run && r[0] - run[1] < REQUEST_BYTES) run[1] = Math.max(run[1], r[1])
      else {
        if (run) bytes += run[1] - run[0]
        runs++
        run = [...r]
      }
    }
    if (run) bytes += run[1] - run[0]
  }
  return `${(runs / count).toFixed(1)} stretches and ${Math.round(bytes / count / 1024)} KiB a query`
}

const timed = <T>(f: () => T): [T, string] => {
  const t0 = performance.now()
  const out = f()
  return [out, `${((performance.now() - t0) / 1000).toFixed(1)} s`]
}
console.log(`${path}: ${nlist} lists, nprobe ${nprobe}, ${count} queries, gaps under ${REQUEST_BYTES / 1024} KiB merged`)
console.log(`  id order: ${stretches(Uint32Array.from({ length: nlist }, (_, l) => l))}`)
if (nlist <= 4096) {
  const [walk, ms] = timed(() => storageOrder(centroids, nlist, dim))
  console.log(`  walk (${ms}): ${stretches(walk)}`)
}
const [grouped, ms] = timed(() => groupedWalk(centroids, nlist, dim))
console.log(`  grouped walk (${ms}): ${stretches(grouped)}`)
index.close()
await file.close()
