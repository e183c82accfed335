/**
 * GPU kernel benchmark (WebGPU through Dawn in Node): effective bandwidth of exact L2 and of
 * the PQ scan, kernel time only (data resident on the GPU), against the TypeScript reference
 * on a slice of the same data, each as a share of a plain vec4 copy's bandwidth measured in the
 * same run (the ceiling); the batch search's list and refine stages; an in-memory build. Prints
 * tables; `--json FILE` also writes the figures (what a GPU session brings back).
 *   npm run bench:gpu [-- --scale 0.1 --reps 20 --json gpu.json]
 */
import { writeFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { loadKernels } from '../src/compute/backend.js'
import { GpuBuild, recordAssign } from '../src/compute/gpu/build.js'
import { DEFAULT_TUNABLES } from '../src/compute/gpu/context.js'
import { GpuExact, recordExact, recordRefine } from '../src/compute/gpu/exact.js'
import { BLOCK, GpuListScan } from '../src/compute/gpu/listScan.js'
import { ComputePass, WORKGROUP } from '../src/compute/gpu/pass.js'
import { LANES_CHOICES } from '../src/compute/gpu/selfTest.js'
import { l2sq, pqScan } from '../src/compute/js.js'
import { exactDistance } from '../src/compute/metric.js'
import { mulberry32, sampleIndices } from '../src/compute/random.js'
import { ListScanner } from '../src/compute/scan.js'
import { TopK } from '../src/compute/topk.js'
import { nprobeFloor } from '../src/index/build.js'
import type { IvfPqModel } from '../src/index/model.js'
import { pqLayout } from '../src/index/pq.js'
import { encodeAll, resolveParams, type TrainOptions, trainModel } from '../src/index/train.js'
import { tuneNprobe } from '../src/index/tune.js'
import { nodeGpuKernels, pqScanSetup } from './gpuKernels.js'

const { values } = parseArgs({
  options: { scale: { type: 'string', default: '1' }, reps: { type: 'string', default: '20' }, json: { type: 'string' } },
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
const tuning = ctx.tuning
const picked = { ...ctx.tunables }
console.log(
  tuning.source === 'defaults'
    ? `tunables: the defaults (${tuning.why})`
    : `tunables: LANES ${picked.LANES}, DIRECT ${picked.DIRECT} from a self-test (${tuning.source === 'self-test' ? `${tuning.ms.toFixed(0)} ms` : 'kept'}):\n  ${tuning.timings.lanes
        .map((t) => `LANES ${t.LANES}: exact ${t.exactMs.toFixed(3)} ms, refine ${t.refineMs.toFixed(3)} ms`)
        .join('; ')}\n  ${tuning.timings.scan
        .map((t) => `blocks of ${t.length}: tiled ${t.tiledMs.toFixed(3)} ms, direct ${t.directMs.toFixed(3)} ms`)
        .join('; ')}`,
)
/** What `--json` writes: every figure printed, as numbers. */
const report: Record<string, unknown> & { kernels: Array<Record<string, unknown>> } = {
  date: new Date().toISOString(),
  adapter: got.adapter,
  scale,
  reps,
  tunables: picked,
  tuning,
  kernels: [],
}
/** Writes what is measured so far (a run stopped at its time limit still brings its figures back). */
const save = () => values.json && writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`)
const rand = mulberry32(5)
const fill = (a: Float32Array) => {
  for (let i = 0; i < a.length; i++) a[i] = rand() * 2 - 1
  return a
}

/** Kernel time per pass (ms); throws the first validation error instead of timing nothing. */
async function time(run: (encoder: GPUCommandEncoder) => void): Promise<number> {
  const device = ctx.device
  device.pushErrorScope('validation')
  const warm = device.createCommandEncoder()
  run(warm)
  device.queue.submit([warm.finish()])
  await device.queue.onSubmittedWorkDone()
  const encoder = device.createCommandEncoder()
  for (let r = 0; r < reps; r++) run(encoder)
  const t0 = performance.now()
  device.queue.submit([encoder.finish()])
  await device.queue.onSubmittedWorkDone()
  const ms = (performance.now() - t0) / reps
  const error = await device.popErrorScope()
  if (error) throw new Error(`GPU validation: ${error.message.split('\n')[0]}`)
  return ms
}

// The ceiling: a plain vec4 copy, bytes read + written, as the other kernels' bytes are counted
const COPY = `struct Params { n: u32, perRow: u32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> src: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> dst: array<vec4<f32>>;
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) id: vec3u) {
  let i = id.y * params.perRow + id.x;
  if (i < params.n) { dst[i] = src[i]; }
}`
let copyGBs = 0
{
  const bytes = Math.min(Math.round((1 << 30) * scale), Math.floor(ctx.maxBinding / 16) * 16)
  const n = bytes / 16
  const pass = new ComputePass(ctx.device, COPY, 'copy')
  const buffers = [ctx.acquire(bytes, 'copy.src'), ctx.acquire(bytes, 'copy.dst')]
  const ms = await time((enc) => pass.run(enc, n, (perRow) => new Uint8Array(Uint32Array.from([n, perRow]).buffer), buffers))
  ctx.release(...buffers)
  copyGBs = (2 * bytes) / 1e6 / ms
  report.copy = { bytes, ms, GBs: copyGBs }
  console.log(
    `vec4 copy (the ceiling): ${(bytes / 2 ** 20).toFixed(0)} MiB read + written in ${ms.toFixed(2)} ms = ${copyGBs.toFixed(0)} GB/s`,
  )
}
const share = (GBs: number) => `${((100 * GBs) / copyGBs).toFixed(0)} %`

const rows: string[] = [
  '| kernel | variant | size | GPU ms | GPU GB/s | of copy | TS GB/s (same data, CPU) | speed-up |',
  '|---|---|---|---|---|---|---|---|',
]
const lanesName = (l: number) =>
  `LANES ${l}${l === DEFAULT_TUNABLES.LANES ? ' (default)' : ''}${l === picked.LANES && tuning.source !== 'defaults' ? ' (self-test)' : ''}`

// exact L2: n vectors × dim, q queries; bytes = the vectors read once per pass. Every LANES value
// (the default and the self-test's pick marked), so a GPU run shows which to keep.
for (const [n, dim, q] of [
  [Math.round(500_000 * scale), 768, 1],
  [Math.round(500_000 * scale), 768, 8],
  [Math.round(2_000_000 * scale), 128, 1],
] as const) {
  const vectors = fill(new Float32Array(n * dim))
  const queries = fill(new Float32Array(q * dim))
  const sample = Math.min(n, 20_000)
  const t0 = performance.now()
  for (let qi = 0; qi < q; qi++) for (let v = 0; v < sample; v++) l2sq(queries, qi * dim, vectors, v * dim, dim)
  const cpuGBs = (sample * dim * 4 * q) / 1e6 / (performance.now() - t0)
  for (const l of LANES_CHOICES) {
    ctx.tunables.LANES = l
    const buffers = [ctx.upload(queries, 'q'), ctx.upload(vectors, 'v'), ctx.acquire(q * n * 4, 'out')]
    const ms = await time((enc) => recordExact(ctx, enc, { n, q, dim, ip: false }, buffers))
    ctx.release(...buffers)
    const gpuGBs = (n * dim * 4) / 1e6 / ms
    report.kernels.push({ kernel: 'exactL2', lanes: l, n, dim, queries: q, ms, GBs: gpuGBs, ofCopy: gpuGBs / copyGBs, cpuGBs })
    rows.push(
      `| exact L2 | ${lanesName(l)} | ${n.toLocaleString('en')} × ${dim}, ${q} quer${q > 1 ? 'ies' : 'y'} | ${ms.toFixed(2)} | ${gpuGBs.toFixed(0)} | ${share(gpuGBs)} | ${cpuGBs.toFixed(2)} | ${(gpuGBs / cpuGBs).toFixed(0)}× |`,
    )
  }
}
ctx.tunables.LANES = picked.LANES

// PQ scan: n codes × m bytes, one lookup table, one list: the tiled entry point (tables in
// workgroup memory; the default for blocks of ≥ DIRECT entries) and the direct one
for (const [n, m] of [
  [Math.round(20_000_000 * scale), 96],
  [Math.round(50_000_000 * scale), 25],
] as const) {
  const codes = new Uint8Array(Math.ceil((n * m) / 4) * 4)
  const words = new Uint32Array(codes.buffer)
  let x = 2463534242
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    words[i] = x >>> 0
  }
  const table = fill(new Float32Array(m * 256))
  const sample = Math.min(n, 500_000)
  const out = new Float32Array(sample)
  const t0 = performance.now()
  pqScan(table, 256, codes, sample, m, 0, out)
  const cpuGBs = (sample * m) / 1e6 / (performance.now() - t0)
  // full blocks (BLOCK entries) go to `tiled` unless DIRECT is past BLOCK
  const fullBlocks = picked.DIRECT <= BLOCK ? 'tiled' : 'direct'
  for (const [name, direct] of [
    ['tiled', 0],
    ['direct', Number.POSITIVE_INFINITY],
  ] as const) {
    ctx.tunables.DIRECT = direct
    const scan = pqScanSetup(ctx, table, 256, codes, n, m, 0)
    const ms = await time(scan.record)
    scan.release()
    const gpuGBs = (n * m) / 1e6 / ms
    report.kernels.push({
      kernel: 'pqScan',
      variant: name,
      used: name === fullBlocks,
      n,
      m,
      ms,
      GBs: gpuGBs,
      ofCopy: gpuGBs / copyGBs,
      cpuGBs,
    })
    rows.push(
      `| PQ scan | ${name}${name === fullBlocks ? ' (used)' : ''} | ${n.toLocaleString('en')} codes × ${m} B | ${ms.toFixed(2)} | ${gpuGBs.toFixed(0)} | ${share(gpuGBs)} | ${cpuGBs.toFixed(2)} | ${(gpuGBs / cpuGBs).toFixed(0)}× |`,
    )
  }
  ctx.tunables.DIRECT = picked.DIRECT
}
// Refinement: each of q queries against its own `per` candidates among n decoded rows (random
// pairs: the gathers a batch's refine stage makes); bytes = the candidate rows read, one per pair
for (const [n, dim, q, per] of [[Math.round(200_000 * scale), 768, Math.max(1, Math.round(10_000 * scale)), 100]] as const) {
  const vectors = fill(new Float32Array(n * dim))
  const queries = fill(new Float32Array(q * dim))
  const pairs = new Uint32Array(2 * q * per)
  for (let p = 0; p < q * per; p++) {
    pairs[2 * p] = Math.floor(p / per)
    pairs[2 * p + 1] = (rand() * n) | 0
  }
  const sample = Math.min(q * per, 200_000)
  const t0 = performance.now()
  for (let p = 0; p < sample; p++) l2sq(queries, (pairs[2 * p] as number) * dim, vectors, (pairs[2 * p + 1] as number) * dim, dim)
  const cpuGBs = (sample * dim * 4) / 1e6 / (performance.now() - t0)
  const buffers = [ctx.upload(queries, 'q'), ctx.upload(vectors, 'v'), ctx.upload(pairs, 'pairs'), ctx.acquire(q * per * 8, 'out')]
  for (const l of LANES_CHOICES) {
    ctx.tunables.LANES = l
    const ms = await time((enc) => recordRefine(ctx, enc, { pairs: q * per, dim, ip: false }, buffers))
    const gpuGBs = (q * per * dim * 4) / 1e6 / ms
    report.kernels.push({
      kernel: 'refinePairs',
      lanes: l,
      n,
      dim,
      queries: q,
      perQuery: per,
      ms,
      GBs: gpuGBs,
      ofCopy: gpuGBs / copyGBs,
      cpuGBs,
    })
    rows.push(
      `| refine (exact L2 of pairs) | ${lanesName(l)} | ${q.toLocaleString('en')} queries × ${per} of ${n.toLocaleString('en')} × ${dim} | ${ms.toFixed(2)} | ${gpuGBs.toFixed(0)} | ${share(gpuGBs)} | ${cpuGBs.toFixed(2)} | ${(gpuGBs / cpuGBs).toFixed(0)}× |`,
    )
  }
  ctx.tunables.LANES = picked.LANES
  ctx.release(...buffers)
}
console.log(rows.join('\n'))
save()

// The build's kernels: nearest centroid (both entry points; effective TFLOP/s = 2 · n · k · dim
// per pass) and PQ encoding (rows/s).
{
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
      const chosen = entry === (dim <= 32 ? 'narrow' : 'tiled') ? ' (chosen)' : ''
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
  save()
}

// End to end through the search path's GPU stage (GpuListScan): a batch of queries against an
// IVF-PQ index with codes resident on the GPU — ADC tables for every (query, probed list), the
// scan of every probed list, top-k selection; only k × refine candidates per query come back.
// Synthetic model and codes (speed does not depend on their values); probing is timed apart.
{
  const n = Math.round(1_000_000 * scale)
  const nq = Math.max(1, Math.round(10_000 * scale))
  const [dim, nlist, m, nprobe, keep] = [768, 1024, 96, 32, 100]
  const layout = pqLayout(dim, m, 8)
  const model: IvfPqModel = {
    params: { metric: 'l2', dim, nlist, m, nbits: 8, rows: n, indexedRows: n, sample: 0, seed: 1, coarseIterations: 0, pqIterations: 0 },
    centroids: fill(new Float32Array(nlist * dim)),
    codebooks: fill(new Float32Array(256 * dim)),
    layout,
  }
  const per = Math.ceil(n / nlist)
  const lists = Array.from({ length: nlist }, (_, l) => {
    const count = Math.max(0, Math.min(per, n - l * per))
    const codes = new Uint8Array(count * m)
    for (let i = 0; i < codes.length; i++) codes[i] = (rand() * 256) | 0
    return { codes, rowIds: Uint32Array.from({ length: count }, (_, i) => l * per + i) }
  })
  const queries = Array.from({ length: nq }, () => fill(new Float32Array(dim)))
  const probes = queries.map(() => sampleIndices(nlist, nprobe, rand))
  const scan = new GpuListScan(ctx, model, { kernels: await loadKernels('wasm') })
  const warm = Math.min(nq, 64)
  await scan.candidates(queries.slice(0, warm), probes.slice(0, warm), (l) => lists[l], 'l2', keep) // pipelines, lists resident
  await scan.candidates(queries, probes, (l) => lists[l], 'l2', keep) // every list resident
  const t0 = performance.now()
  const found = await scan.candidates(queries, probes, (l) => lists[l], 'l2', keep)
  const ms = performance.now() - t0
  const p0 = performance.now()
  await scan.probe(queries, nprobe)
  const probeMs = performance.now() - p0
  // refinement of every query's candidates from their decoded vectors in memory (what the
  // pipeline hands GpuExact.refine: the batch's distinct candidate rows, uploaded, and the pairs)
  const slots = new Map<number, number>()
  const pairs = new Uint32Array(2 * found.reduce((s, c) => s + c.length, 0))
  let at = 0
  for (const [qi, cands] of found.entries())
    for (const c of cands) {
      if (!slots.has(c.row)) slots.set(c.row, slots.size)
      pairs[at++] = qi
      pairs[at++] = slots.get(c.row) as number
    }
  const decoded = new Float32Array(slots.size * dim)
  const block = fill(new Float32Array(dim * 1024))
  for (let r = 0; r < slots.size; r += 1024) decoded.set(block.subarray(0, Math.min(1024, slots.size - r) * dim), r * dim)
  const packed = new Float32Array(nq * dim)
  for (const [qi, q] of queries.entries()) packed.set(q, qi * dim)
  const exact = new GpuExact(ctx)
  await exact.refine('l2', packed.subarray(0, dim), 1, decoded, Math.min(slots.size, 1024), dim, Uint32Array.of(0, 0)) // pipeline
  const r0 = performance.now()
  await exact.refine('l2', packed, nq, decoded, slots.size, dim, pairs)
  const refineMs = performance.now() - r0
  const cpuSample = Math.min(pairs.length / 2, 100_000)
  const c1 = performance.now()
  for (let p = 0; p < cpuSample; p++)
    exactDistance('l2', queries[pairs[2 * p] as number] as Float32Array, decoded, (pairs[2 * p + 1] as number) * dim)
  const cpuRefineMs = ((performance.now() - c1) * (pairs.length / 2)) / cpuSample
  const total = probeMs + ms + refineMs
  report.batchSearch = {
    queries: nq,
    rows: n,
    dim,
    nlist,
    m,
    nprobe,
    candidatesPerQuery: keep,
    probeMs,
    listStageMs: ms,
    refineMs,
    refineRows: slots.size,
    totalMs: total,
    cpuRefineMs,
  }
  const scanned = probes.reduce((s, p) => s + Array.from(p).reduce((t, l) => t + (lists[l]?.rowIds.length ?? 0), 0), 0)
  // the CPU (wasm) doing the same scan for a few of the queries
  const cpu = new ListScanner(model, await loadKernels('wasm'))
  const sample = Math.min(nq, 20)
  const c0 = performance.now()
  for (let qi = 0; qi < sample; qi++) {
    const top = new TopK(keep)
    for (const l of probes[qi] as Uint32Array) {
      const list = lists[l] as { codes: Uint8Array; rowIds: Uint32Array }
      cpu.scan(queries[qi] as Float32Array, 'l2', l, list.codes, list.rowIds, top)
    }
  }
  const cpuQps = sample / ((performance.now() - c0) / 1000)
  console.log(
    `\nbatch IVF-PQ search, list stage (tables + scan + top-k + read back), codes resident: ${nq.toLocaleString('en')} queries × ` +
      `${n.toLocaleString('en')} vectors (nlist ${nlist}, m ${m}, nprobe ${nprobe}, k × refine ${keep}): ${ms.toFixed(0)} ms — ` +
      `${(nq / (ms / 1000)).toFixed(0)} queries/s, ${((scanned * m) / 1e6 / ms).toFixed(0)} GB/s of codes scanned effective; ` +
      `CPU (wasm, 1 thread): ${cpuQps.toFixed(1)} queries/s; probing the ${nlist} centroids for all queries on the GPU: ${probeMs.toFixed(0)} ms; ` +
      `refinement of the ${(pairs.length / 2).toLocaleString('en')} candidates (${slots.size.toLocaleString('en')} decoded rows uploaded): ` +
      `${refineMs.toFixed(0)} ms (CPU, 1 thread: ~${cpuRefineMs.toFixed(0)} ms); end to end from memory ${total.toFixed(0)} ms`,
  )
  report.batchSearch = { ...(report.batchSearch as object), cpuQueriesPerSecond: cpuQps }
  save()
  scan.release()
}

// Index build from vectors in memory (reading and writing Parquet not included): coarse k-means,
// the sample's assignment, batched PQ k-means over all subspaces, encoding every row, and the
// nprobe measurement (exact truth for 100 rows, candidate scans) — GPU vs CPU (wasm).
{
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
    await tuneNprobe(model, lists, data, rowIds, { minNprobe: nprobeFloor(params, n), kernels: train.kernels, gpu: train.gpu })
    return { train: t1 - t0, encode: t2 - t1, tune: performance.now() - t2 }
  }
  const gpuBuild = new GpuBuild(ctx)
  const kernels = await loadKernels('wasm')
  const g = await timeBuild({ kernels, gpu: gpuBuild })
  const cpuRows = Math.min(n, 20_000)
  let cpuLine = ''
  if (n <= 100_000) {
    const c = await timeBuild({ kernels })
    cpuLine = `; CPU (wasm, 1 thread): train ${(c.train / 1000).toFixed(1)} s, encode ${(c.encode / 1000).toFixed(1)} s, tune ${(c.tune / 1000).toFixed(1)} s`
  } else {
    // encoding is linear in n: time a slice on the CPU and scale it
    const model = await trainModel(data, n, params, { kernels, gpu: gpuBuild })
    const t0 = performance.now()
    await encodeAll(model, data.subarray(0, cpuRows * dim), cpuRows, rowIds.subarray(0, cpuRows), { kernels })
    cpuLine = `; CPU (wasm, 1 thread) encoding would take ~${(((performance.now() - t0) * (n / cpuRows)) / 1000).toFixed(0)} s (from ${cpuRows.toLocaleString('en')} rows)`
  }
  report.build = { rows: n, dim, nlist: params.nlist, m: params.m, gpuMs: g, cpu: cpuLine.replace(/^; /, '') }
  console.log(
    `\nIVF-PQ build ${n.toLocaleString('en')} × ${dim} (nlist ${params.nlist}, m ${params.m}, sample ${params.sample}, ` +
      `${params.coarseIterations}+${params.pqIterations} iterations), vectors in memory: GPU train ${(g.train / 1000).toFixed(1)} s, ` +
      `encode ${(g.encode / 1000).toFixed(1)} s, tune ${(g.tune / 1000).toFixed(1)} s = ${((g.train + g.encode + g.tune) / 1000).toFixed(1)} s${cpuLine}`,
  )
}
save()
if (values.json) console.log(`\nwrote ${values.json}`)
process.exit(0)
