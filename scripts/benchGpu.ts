/**
 * GPU kernel benchmark (WebGPU through Dawn in Node): effective bandwidth of exact L2 and of
 * the PQ scan, kernel time only (data resident on the GPU), against the TypeScript reference
 * on a slice of the same data, each as a share of a plain vec4 copy's bandwidth measured in the
 * same run (the ceiling); the batch search's list and refine stages (those two also in a
 * browser: the site's bench.html, src/bench/gpuBench.ts); the build's kernels and an
 * in-memory build. Prints
 * tables; `--json FILE` also writes the figures (what a GPU session brings back).
 *   npm run bench:gpu [-- --scale 0.1 --reps 20 --json gpu.json --skip kernels,build]
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import {
  benchGpuBatch,
  benchGpuKernels,
  markdownTable,
  newReport,
  randomFiller,
  runSection,
  targetLines,
  timePasses,
  tuningLines,
} from '../src/bench/gpuBench.js'
import { loadKernels } from '../src/compute/backend.js'
import { assignEntry, GpuBuild, recordAssign } from '../src/compute/gpu/build.js'
import { decodeThreads } from '../src/compute/nodePool.js'
import { nprobeFloor } from '../src/index/build.js'
import { pqLayout } from '../src/index/pq.js'
import { encodeAll, resolveParams, type TrainOptions, trainModel } from '../src/index/train.js'
import { tuneNprobe } from '../src/index/tune.js'
import { spawnNodePageWorker } from '../src/search/nodePages.js'
import { PageDecoders } from '../src/search/pageDecoding.js'
import { nodeGpuKernels } from './gpuKernels.js'

const { values } = parseArgs({
  options: {
    scale: { type: 'string', default: '1' },
    reps: { type: 'string', default: '20' },
    json: { type: 'string' },
    // sections to leave out, comma-separated (kernels, build kernels, batch search, build): a
    // short GPU session measures what it is after
    skip: { type: 'string', default: '' },
  },
})
const scale = Number(values.scale)
const reps = Number(values.reps)
const got = await nodeGpuKernels()
if (!got.kernels) {
  console.log(`no GPU: ${got.reason}`)
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ date: new Date().toISOString(), adapter: null, reason: got.reason })}\n`)
  process.exit(0)
}
const { ctx } = got.kernels
console.log(`adapter: ${got.adapter}`)
// what sharedGpuContext's self-test chose for this adapter (selfTest.ts); the sweeps below say
// whether it chose well
console.log(tuningLines(ctx))
// the batch's pages decoded as the CLI's searches decode them: on decodeThreads() threads
const pages = new PageDecoders(decodeThreads(), spawnNodePageWorker)
const options = { scale, reps, decoders: await pages.poolFor(Number.MAX_SAFE_INTEGER) }
/** What `--json` writes: every figure printed, as numbers. */
const report = newReport(ctx, options)
// figures under Dawn toggles (e.g. workgroup memory not zeroed) say so: a browser runs its defaults
const features = process.env.PARQUETSEEK_DAWN_FEATURES?.trim()
if (features) {
  report.dawnFeatures = features
  console.log(`Dawn toggles on: ${features} (not a browser's defaults)`)
}
/** Writes what is measured so far (a run stopped at its time limit still brings its figures back). */
const save = () => values.json && writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`)
const skipped = new Set(values.skip.split(',').map((s) => s.trim()))
const section = async (name: string, run: () => Promise<void>) => {
  if (skipped.has(name)) console.log(`\n(${name}: skipped)`)
  else await runSection(report, name, run, save)
}
const { rand, fill } = randomFiller(5)
const time = (run: (encoder: GPUCommandEncoder) => void) => timePasses(ctx, reps, run)

// the kernel table and the batch search: what bench.html measures in a browser too (src/bench/gpuBench.ts)
await section('kernels', async () => console.log(markdownTable(await benchGpuKernels(ctx, options, report))))

// The build's kernels: nearest centroid (both entry points; effective TFLOP/s = 2 · n · k · dim
// per pass) and PQ encoding (rows/s).
await section('build kernels', async () => {
  const out: string[] = ['| kernel | variant | size | GPU ms | effective |', '|---|---|---|---|---|']
  for (const [n, dim, k, batches] of [
    [Math.round(100_000 * scale), 768, 1024, 1],
    [Math.round(65_536 * scale), 8, 256, 96],
  ] as const) {
    const x = fill(new Float32Array(batches * n * dim))
    const centroids = fill(new Float32Array(batches * k * dim))
    const buffers = [
      ctx.upload(x, 'x'),
      ctx.upload(centroids, 'c'),
      ctx.upload(new Float32Array(batches * k), 'norms'),
      ctx.acquire(batches * n * 4, 'out'),
    ]
    for (const entry of ['tiled', 'narrow'] as const) {
      const ms = await time((enc) => recordAssign(ctx, enc, { n, k, dim, batches }, buffers, entry))
      const tflops = (2 * n * k * dim * batches) / 1e9 / ms
      const chosen = entry === assignEntry(ctx, dim) ? ' (chosen)' : ''
      report.kernels.push({ kernel: 'assignNearest', variant: entry, n, dim, k, batches, ms, TFLOPs: tflops })
      out.push(
        `| nearest centroid | ${entry}${chosen} | ${batches > 1 ? `${batches} × ` : ''}${n.toLocaleString('en')} × ${dim} vs ${k} | ${ms.toFixed(2)} | ${tflops.toFixed(2)} TFLOP/s |`,
      )
    }
    ctx.release(...buffers)
  }
  const gpuBuild = new GpuBuild(ctx)
  const n = Math.round(200_000 * scale)
  const [dim, nlist, m] = [768, 1024, 96]
  const model = {
    centroids: fill(new Float32Array(nlist * dim)),
    nlist,
    layout: pqLayout(dim, m, 8),
    codebooks: fill(new Float32Array(256 * dim)),
  }
  const x = fill(new Float32Array(n * dim))
  await gpuBuild.encode(model, x.subarray(0, Math.min(n, 1000) * dim), Math.min(n, 1000)) // pipelines
  const e0 = performance.now()
  await gpuBuild.encode(model, x, n)
  const ms = performance.now() - e0
  report.kernels.push({ kernel: 'encode (with transfers)', n, dim, nlist, m, ms, rowsPerSecond: (n / ms) * 1000 })
  out.push(
    `| IVF assignment + PQ encode (with upload and read back) | | ${n.toLocaleString('en')} × ${dim}, nlist ${nlist}, m ${m} | ${ms.toFixed(0)} | ${((n / ms) * 1000).toFixed(0)} rows/s |`,
  )
  console.log(`\n${out.join('\n')}`)
})

// end to end through the search path's GPU stage (GpuListScan), from memory
await section('batch search', async () => console.log(`\n${await benchGpuBatch(ctx, options, report)}`))

// Index build from vectors in memory (reading and writing Parquet not included): coarse k-means,
// the sample's assignment, batched PQ k-means over all subspaces, encoding every row, and the
// nprobe measurement (exact truth for 100 rows, candidate scans) — GPU vs CPU (wasm).
await section('build', async () => {
  const n = Math.round(1_000_000 * scale)
  const dim = 768
  const data = new Float32Array(n * dim)
  // clustered: 4,096 random centres plus noise, so k-means has structure to find
  const centres = fill(new Float32Array(4096 * dim))
  for (let i = 0; i < n; i++) {
    const c = (rand() * 4096) | 0
    for (let j = 0; j < dim; j++) data[i * dim + j] = (centres[c * dim + j] as number) + (rand() - 0.5) * 0.4
  }
  const params = resolveParams(n, n, dim, { nlist: Math.min(1024, Math.floor(n / 32)), m: 96 })
  const rowIds = Uint32Array.from({ length: n }, (_, i) => i)
  const timeBuild = async (train: TrainOptions) => {
    const t0 = performance.now()
    const model = await trainModel(data, n, params, train)
    const t1 = performance.now()
    const lists = await encodeAll(model, data, n, rowIds, train)
    const t2 = performance.now()
    // when each of the tune's measurements ended: the first one's includes the exact truth
    const marks: number[] = []
    await tuneNprobe(model, lists, data, rowIds, {
      minNprobe: nprobeFloor(params, n),
      kernels: train.kernels,
      gpu: train.gpu,
      onProgress: () => marks.push(performance.now() - t2),
    })
    const tune = performance.now() - t2
    return { ms: { train: t1 - t0, encode: t2 - t1, tune, tuneFirstMeasurement: marks[0] ?? tune, tuneMeasurements: marks.length }, model }
  }
  const gpuBuild = new GpuBuild(ctx)
  const kernels = await loadKernels('wasm')
  const { ms: g, model } = await timeBuild({ kernels, gpu: gpuBuild })
  const cpuRows = Math.min(n, 20_000)
  let cpuLine = ''
  if (n <= 100_000) {
    const { ms: c } = await timeBuild({ kernels })
    cpuLine = `; CPU (wasm, 1 thread): train ${(c.train / 1000).toFixed(1)} s, encode ${(c.encode / 1000).toFixed(1)} s, tune ${(c.tune / 1000).toFixed(1)} s`
  } else {
    // encoding is linear in n: time a slice on the CPU (with the GPU's model) and scale it
    const t0 = performance.now()
    await encodeAll(model, data.subarray(0, cpuRows * dim), cpuRows, rowIds.subarray(0, cpuRows), { kernels })
    cpuLine = `; CPU (wasm, 1 thread) encoding would take ~${(((performance.now() - t0) * (n / cpuRows)) / 1000).toFixed(0)} s (from ${cpuRows.toLocaleString('en')} rows)`
  }
  report.build = { rows: n, dim, nlist: params.nlist, m: params.m, gpuMs: g, cpu: cpuLine.replace(/^; /, '') }
  console.log(
    `\nIVF-PQ build ${n.toLocaleString('en')} × ${dim} (nlist ${params.nlist}, m ${params.m}, sample ${params.sample}, ` +
      `${params.coarseIterations}+${params.pqIterations} iterations), vectors in memory: GPU train ${(g.train / 1000).toFixed(1)} s, ` +
      `encode ${(g.encode / 1000).toFixed(1)} s, tune ${(g.tune / 1000).toFixed(1)} s (exact truth and the first of ${g.tuneMeasurements} ` +
      `measurements ${(g.tuneFirstMeasurement / 1000).toFixed(1)} s) = ${((g.train + g.encode + g.tune) / 1000).toFixed(1)} s${cpuLine}`,
  )
})
report.targets = targetLines(report)
console.log(`\nagainst the targets:\n${report.targets.map((l) => `  ${l}`).join('\n')}`)
save()
if (values.json) console.log(`\nwrote ${values.json}`)
pages.close()
process.exit(0)
