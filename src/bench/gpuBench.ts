import type { FileMetaData, SchemaTree } from 'hyparquet'
import { parquetSchema } from 'hyparquet'
import { ByteWriter } from 'hyparquet-writer'
import { loadKernels } from '../compute/backend.js'
import { DEFAULT_TUNABLES, type GpuContext, type Tunables } from '../compute/gpu/context.js'
import { GpuExact, recordExact, recordRefine } from '../compute/gpu/exact.js'
import {
  blockOf,
  emptyListScanProfile,
  GpuListScan,
  interleave,
  type ListScanProfile,
  recordScan,
  scanPlan,
} from '../compute/gpu/listScan.js'
import { ComputePass, WORKGROUP } from '../compute/gpu/pass.js'
import { BINS_CHOICES, LANES_CHOICES, type Tuning, topKWorkload } from '../compute/gpu/selfTest.js'
import { l2sq, pqScan } from '../compute/js.js'
import { exactDistance, packRows } from '../compute/metric.js'
import { sharedFloats } from '../compute/pool.js'
import { pruneProbes } from '../compute/probe.js'
import { mulberry32 } from '../compute/random.js'
import { ListScanner } from '../compute/scan.js'
import { TopK } from '../compute/topk.js'
import { checkpoint } from '../errors.js'
import type { IvfPqModel } from '../index/model.js'
import { pqLayout } from '../index/pq.js'
import { writeVectorChunk } from '../parquet/vectorChunk.js'
import { memoryIndex } from '../query/memory.js'
import { REFINE_BLOCK_BYTES, STAGES, type Stage } from '../query/pipeline.js'
import { decodePages, type PageWorkers } from '../search/pageDecoding.js'

/**
 * The GPU benchmark both `npm run bench:gpu` (Node, Dawn) and the site's bench.html (a browser's
 * WebGPU) run, so a laptop's browser and a data-centre GPU are measured the same way: a plain
 * vec4 copy (the bandwidth ceiling), exact L2 and refinement at every LANES value, the PQ scan
 * through both entry points — kernel time with data resident, effective GB/s, share of the copy,
 * the TypeScript reference on a slice of the same data — then a batch search's GPU stages end to
 * end from memory. Sizes are the issue's at `scale` 1 (a 1 M × 768 index, 10,000 queries);
 * `reps` passes are timed in one submit after a warm-up.
 */

export interface GpuBenchOptions {
  /** Fraction of the full sizes (1: 1 M rows; a browser page defaults to less). */
  scale: number
  /** Passes per timing. */
  reps: number
  signal?: AbortSignal
  /** After each measurement: how many of `total` are done, and which. */
  onProgress?: (done: number, total: number, what: string) => void
  /** Workers decoding vector pages beside this thread, as a search given `threads` has (none: one thread). */
  decoders?: PageWorkers
}

/** benchGpuBatch's figures (ms unless named otherwise). */
export interface BatchFigures {
  queries: number
  rows: number
  dim: number
  nlist: number
  m: number
  nprobe: number
  /** Lists a query scanned after the cut. */
  listsPerQuery: number
  candidatesPerQuery: number
  probeMs: number
  /** The CPU's cut of the probed lists by distance (compute/probe.ts pruneProbes). */
  cutMs: number
  listStageMs: number
  /**
   * The list stage again with every block tiled at each PER (a block going on through a query's
   * lists, which share its table), and whether it found the same candidates: what the self-test
   * does not time yet.
   */
  tiledListStage: Array<{ PER: number; ms: number; same: boolean }>
  /**
   * Decoding the distinct candidate rows' pages on the CPU, on `decodeThreads` threads
   * (search/pageDecoding.ts) and on one (timed on a sample, scaled).
   */
  decodeMs: number
  decodeThreads: number
  decodeOneThreadMs: number
  refineMs: number
  refineRows: number
  /** The five stages above, each timed alone, summed. */
  stagesMs: number
  /**
   * The search pipeline on the whole batch (each candidate's page decoded, as a file search does,
   * from pages held in memory), and its stages as SearchStats.msByStage times them (probe: the
   * GPU's and the cut; scan: the list stage and the candidates' checks; refine: pages decoded,
   * refinement, ranking).
   */
  pipelineMs: number
  pipelineStages: Record<Stage, number>
  /** End to end: the pipeline (the candidates' pages decoded in it), as pipelineMs. */
  totalMs: number
  cpuRefineMs: number
  cpuQueriesPerSecond: number
  /** The probe and the list stage once more, profiled (GpuListScan.profile): where their time goes. */
  profile?: ListScanProfile
}

export interface GpuBenchReport {
  date: string
  adapter: string
  /** bench:gpu: the Dawn toggles turned on (PARQUETSEEK_DAWN_FEATURES), when any: not what a browser runs. */
  dawnFeatures?: string
  scale: number
  reps: number
  /** What the context searches with, and how they were chosen (selfTest.ts). */
  tunables: Tunables
  tuning: Tuning
  copy?: { bytes: number; ms: number; GBs: number }
  kernels: Array<Record<string, unknown>>
  batchSearch?: BatchFigures
  /** bench:gpu only: an in-memory index build. */
  build?: Record<string, unknown>
  /** targetLines' verdicts, once measured. */
  targets?: string[]
  /** bench:gpu: sections that failed ("name: message"); the others still ran. */
  errors?: string[]
  /** Wall-clock seconds of each section run (bench:gpu), data generation included. */
  sectionSeconds?: Record<string, number>
}

/**
 * Buffers for scanning n code rows as one segment of scanLists.wgsl (interleaved codes, identity
 * row ids, one table); `record` adds the pass to an encoder (the benchmark times it alone).
 */
export function pqScanSetup(ctx: GpuContext, table: Float32Array, ksub: number, codes: Uint8Array, n: number, m: number, bias: number) {
  const bits = new Float32Array([bias])
  const plan = scanPlan([0, new Uint32Array(bits.buffer)[0] as number, 0, n, 0], ctx.tunables.DIRECT, blockOf(ctx.tunables))
  const rowIds = new Uint32Array(n)
  for (let i = 0; i < n; i++) rowIds[i] = i
  const buffers = [
    ctx.upload(table, 'PqScan.table'),
    ctx.upload(new Uint32Array(4), 'PqScan.noTerms'),
    ctx.upload(interleave(codes, n, m), 'PqScan.codes'),
    ctx.upload(rowIds, 'PqScan.rows'),
    ctx.upload(plan.work, 'PqScan.work'),
    ctx.upload(new Uint32Array(4), 'PqScan.noFilter'),
    ctx.acquire(n * 4, 'PqScan.out'),
    ctx.acquire(n * 4, 'PqScan.outRows'),
  ]
  return {
    out: buffers[6] as GPUBuffer,
    record: (encoder: GPUCommandEncoder) => recordScan(ctx, encoder, plan, { m, ksub, filtered: false, precomputed: false }, buffers),
    release: () => ctx.release(...buffers),
  }
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

/** A seeded generator and what fills an array with its values in [-1, 1) (the benchmarks' data). */
export function randomFiller(seed: number) {
  const rand = mulberry32(seed)
  const fill = (a: Float32Array) => {
    for (let i = 0; i < a.length; i++) a[i] = rand() * 2 - 1
    return a
  }
  return { rand, fill }
}

/** A table (header row first) as markdown, as bench:gpu prints it. */
export function markdownTable([head, ...body]: string[][]): string {
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  return [line(head ?? []), line((head ?? []).map(() => '---')), ...body.map(line)].join('\n')
}

/** Entries an invocation of the tiled list scan scores (the PER tunable), as the benchmark times them. */
const PER_CHOICES = [4, 16, 32] as const
/** Measurements benchGpuKernels makes (its progress total). */
const KERNEL_STEPS = 1 + 3 * LANES_CHOICES.length + 2 * (PER_CHOICES.length + 1) + LANES_CHOICES.length + BINS_CHOICES.length

/**
 * The kernel table: copy, exact L2 and refine at each LANES (the self-test's pick marked), the
 * PQ scan through both entry points (the one full blocks use marked). Fills `report` (copy,
 * kernels) and answers the table's rows, the header first (markdownTable prints them). Restores
 * ctx.tunables.
 */
export async function benchGpuKernels(ctx: GpuContext, o: GpuBenchOptions, report: GpuBenchReport): Promise<string[][]> {
  const { scale, signal } = o
  const { rand, fill } = randomFiller(5)
  const picked = { ...ctx.tunables }
  const tuned = ctx.tuning.source !== 'defaults'
  let done = 0
  const step = async (what: string) => {
    o.onProgress?.(++done, KERNEL_STEPS, what)
    await checkpoint(signal)
  }
  const time = (run: (encoder: GPUCommandEncoder) => void) => timePasses(ctx, o.reps, run)

  const rows: string[][] = [['kernel', 'variant', 'size', 'GPU ms', 'GPU GB/s', 'of copy', 'TS GB/s (same data, CPU)', 'speed-up']]
  let copyGBs = 0
  // a rate or a ratio for the table: two significant digits below 10; "—" where a time was below
  // the timer's resolution (tiny sizes: a page's timer counts in steps of 0.1 ms)
  const figure = (x: number) => (!Number.isFinite(x) || x === 0 ? '—' : x >= 10 ? x.toFixed(0) : x.toPrecision(2))
  {
    const bytes = Math.max(16, Math.min(Math.round(((1 << 30) * scale) / 16) * 16, Math.floor(ctx.maxBinding / 16) * 16))
    const n = bytes / 16
    const pass = new ComputePass(ctx.device, COPY, 'copy')
    const buffers = [ctx.acquire(bytes, 'copy.src'), ctx.acquire(bytes, 'copy.dst')]
    try {
      const ms = await time((enc) => pass.run(enc, n, (perRow) => new Uint8Array(Uint32Array.from([n, perRow]).buffer), buffers))
      copyGBs = (2 * bytes) / 1e6 / ms
      report.copy = { bytes, ms, GBs: copyGBs }
      rows.push([
        'vec4 copy (the ceiling)',
        '',
        `${(bytes / 2 ** 20).toFixed(1)} MiB read + written`,
        ms.toFixed(2),
        figure(copyGBs),
        '100 %',
        '',
        '',
      ])
    } finally {
      ctx.release(...buffers)
    }
    await step('copy')
  }
  /** A kernel row's measured cells: GPU ms, GPU GB/s, share of the copy, the CPU's GB/s, speed-up. */
  const measured = (ms: number, gpuGBs: number, cpuGBs: number) => [
    ms.toFixed(2),
    figure(gpuGBs),
    `${((100 * gpuGBs) / copyGBs).toFixed(0)} %`,
    figure(cpuGBs),
    `${figure(gpuGBs / cpuGBs)}×`,
  ]
  /** A lanes value in the table: the default and the self-test's pick for the kernel (LANES or REFINE_LANES). */
  const lanesName = (l: number, kernel: 'LANES' | 'REFINE_LANES') =>
    `LANES ${l}${l === DEFAULT_TUNABLES[kernel] ? ' (default)' : ''}${l === picked[kernel] && tuned ? ' (self-test)' : ''}`

  try {
    // exact L2: n vectors × dim, q queries; bytes = the vectors read once per pass
    for (const [n, dim, q] of [
      [Math.max(1, Math.round(500_000 * scale)), 768, 1],
      [Math.max(1, Math.round(500_000 * scale)), 768, 8],
      [Math.max(1, Math.round(2_000_000 * scale)), 128, 1],
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
        try {
          // both entry points: the queries read from storage (main) or staged in workgroup memory
          for (const staged of [0, 1]) {
            ctx.tunables.STAGED = staged
            const ms = await time((enc) => recordExact(ctx, enc, { n, q, dim, ip: false }, buffers))
            const gpuGBs = (n * dim * 4) / 1e6 / ms
            report.kernels.push({
              kernel: 'exactL2',
              lanes: l,
              staged: staged === 1,
              n,
              dim,
              queries: q,
              ms,
              GBs: gpuGBs,
              ofCopy: gpuGBs / copyGBs,
              cpuGBs,
            })
            const picks = l === picked.LANES && staged === picked.STAGED && tuned ? ' (self-test)' : ''
            const isDefault = l === DEFAULT_TUNABLES.LANES && staged === DEFAULT_TUNABLES.STAGED ? ' (default)' : ''
            rows.push([
              'exact L2',
              `LANES ${l}${staged ? ', staged' : ''}${isDefault}${picks}`,
              `${n.toLocaleString('en')} × ${dim}, ${q} quer${q > 1 ? 'ies' : 'y'}`,
              ...measured(ms, gpuGBs, cpuGBs),
            ])
          }
        } finally {
          ctx.release(...buffers)
        }
        await step(`exact L2, LANES ${l}`)
      }
    }
    ctx.tunables.LANES = picked.LANES
    ctx.tunables.STAGED = picked.STAGED

    // PQ scan: n codes × m bytes, one lookup table, one list: the tiled entry point (tables in
    // workgroup memory; full blocks use it unless DIRECT is past the block) at blocks of 4, 16 and
    // 32 entries an invocation (PER: each tile of the table copied in serves that many), and the
    // direct one
    for (const [n, m] of [
      [Math.max(1, Math.round(20_000_000 * scale)), 96],
      [Math.max(1, Math.round(50_000_000 * scale)), 25],
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
      const fullBlocks = picked.DIRECT <= blockOf(picked) ? `tiled PER ${picked.PER}` : 'direct'
      for (const [name, direct, per] of [
        ...PER_CHOICES.map((per) => [`tiled PER ${per}`, 0, per] as const),
        ['direct', Number.POSITIVE_INFINITY, picked.PER] as const,
      ]) {
        ctx.tunables.DIRECT = direct
        ctx.tunables.PER = per
        const scan = pqScanSetup(ctx, table, 256, codes, n, m, 0)
        try {
          const ms = await time(scan.record)
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
          rows.push([
            'PQ scan',
            `${name}${name === fullBlocks ? ' (used)' : ''}`,
            `${n.toLocaleString('en')} codes × ${m} B`,
            ...measured(ms, gpuGBs, cpuGBs),
          ])
        } finally {
          scan.release()
        }
        await step(`PQ scan, ${name}`)
      }
      ctx.tunables.DIRECT = picked.DIRECT
      ctx.tunables.PER = picked.PER
    }

    // refinement: each of q queries against its own `per` candidates among n decoded rows (random
    // pairs: the gathers a batch's refine stage makes); bytes = the candidate rows read, one per pair
    const [n, dim, q, per] = [Math.max(1, Math.round(200_000 * scale)), 768, Math.max(1, Math.round(10_000 * scale)), 100]
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
    try {
      for (const l of LANES_CHOICES) {
        ctx.tunables.REFINE_LANES = l
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
        rows.push([
          'refine (exact L2 of pairs)',
          lanesName(l, 'REFINE_LANES'),
          `${q.toLocaleString('en')} queries × ${per} of ${n.toLocaleString('en')} × ${dim}`,
          ...measured(ms, gpuGBs, cpuGBs),
        ])
        await step(`refine, LANES ${l}`)
      }
    } finally {
      ctx.release(...buffers)
    }

    // top-k selection at each BINS: q queries, each with the entries of nprobe = 32 lists of a
    // 1 M-row index (the batch search's), distances about normal (a sum of uniforms, as PQ
    // distances are sums of table values); bytes = each entry's distance and row read once. The
    // candidates a query hands back beyond k × refine = 100 are what finer bins save.
    await benchTopK(ctx, o, report, rows, { copyGBs, selfTest: tuned ? picked.BINS : undefined, measured, time, step })
  } finally {
    Object.assign(ctx.tunables, picked)
  }
  return rows
}

async function benchTopK(
  ctx: GpuContext,
  o: GpuBenchOptions,
  report: GpuBenchReport,
  rows: string[][],
  f: {
    copyGBs: number
    /** The self-test's BINS, where it ran. */
    selfTest?: number
    measured: (ms: number, gpuGBs: number, cpuGBs: number) => string[]
    time: (run: (encoder: GPUCommandEncoder) => void) => Promise<number>
    step: (what: string) => Promise<void>
  },
): Promise<void> {
  const keep = 100
  const per = 32 * Math.max(1, Math.ceil((1_000_000 * o.scale) / 1024))
  // the distances within one binding (2,000 × 31,264 × 4 bytes at scale 1: 250 MB)
  const q = Math.max(2, Math.min(Math.round(2_000 * o.scale), Math.floor(ctx.maxBinding / (4 * per))))
  const entries = q * per
  const work = topKWorkload(ctx, q, per, keep, 9)
  const { dist } = work
  const sample = Math.min(q, Math.max(1, Math.floor(2_000_000 / per)))
  const t0 = performance.now()
  for (let qi = 0; qi < sample; qi++) {
    const top = new TopK(keep)
    for (let i = qi * per; i < (qi + 1) * per; i++) if ((dist[i] as number) < top.bound) top.push(dist[i] as number, i - qi * per)
  }
  const cpuGBs = (sample * per * 8) / 1e6 / (performance.now() - t0)
  try {
    for (const bins of BINS_CHOICES) {
      ctx.tunables.BINS = bins
      const ms = await f.time(work.record)
      const [raw] = await ctx.submitAndRead(ctx.device.createCommandEncoder(), [[work.counts, 0, q * 4]], 'top-k counts')
      const counts = new Uint32Array(raw as ArrayBuffer)
      const found = counts.reduce((s, c) => s + c, 0) / q
      const gpuGBs = (entries * 8) / 1e6 / ms
      report.kernels.push({
        kernel: 'selectTopK',
        bins,
        queries: q,
        perQuery: per,
        keep,
        ms,
        GBs: gpuGBs,
        ofCopy: gpuGBs / f.copyGBs,
        cpuGBs,
        found,
      })
      rows.push([
        'top-k (selectTopK)',
        `BINS ${bins}${bins === DEFAULT_TUNABLES.BINS ? ' (default)' : ''}${bins === f.selfTest ? ' (self-test)' : ''}`,
        `${q.toLocaleString('en')} queries × ${per.toLocaleString('en')} entries, k ${keep}: ${found.toFixed(0)} back a query`,
        ...f.measured(ms, gpuGBs, cpuGBs),
      ])
      await f.step(`top-k, BINS ${bins}`)
    }
  } finally {
    work.release()
  }
}

/** `vectors` (rows of `dim`) as the builder writes them: one LZ4_RAW data page each. */
export function vectorPages(vectors: Float32Array, dim: number): Uint8Array[] {
  const root = parquetSchema({
    schema: [
      { name: 'root', num_children: 1 },
      { name: 'embedding', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'FLOAT', repetition_type: 'OPTIONAL' },
    ],
  } as FileMetaData)
  const list = root.children[0] as SchemaTree
  const tree = [root, list, list.children[0], list.children[0]?.children[0]] as SchemaTree[]
  const rows = Array.from({ length: vectors.length / dim }, (_, r) => vectors.subarray(r * dim, (r + 1) * dim))
  const writer = new ByteWriter()
  const { locations } = writeVectorChunk(writer, tree, rows)
  const bytes = new Uint8Array(writer.getBuffer())
  return locations.map((p) => bytes.subarray(Number(p.offset), Number(p.offset) + p.compressed_page_size))
}

/**
 * ms a page to decode one-vector pages (the refine stage's reads, search/pageDecoding.ts): the
 * vectors in `vectors` written as the builder writes them, then `decodes` decodes cycling
 * through them, a refine block's worth of pages at a time (query/pipeline.ts REFINE_BLOCK_BYTES)
 * as a search decodes them — on the pool's workers and this thread when there is a pool.
 */
export async function pageDecodeMs(vectors: Float32Array, dim: number, decodes: number, pool?: PageWorkers): Promise<number> {
  const pages = vectorPages(vectors, dim)
  const block = Math.max(1, Math.min(decodes, Math.floor(REFINE_BLOCK_BYTES / (4 * dim))))
  // as a search with workers holds its vectors (SeekIndex's vectorBuffer: they write into it)
  const out = pool ? sharedFloats(block * dim) : new Float32Array(block * dim)
  const column = { kind: 'list', element: 'FLOAT' } as const
  const decode = async (from: number, count: number) =>
    decodePages(
      pool,
      Array.from({ length: count }, (_, i) => pages[(from + i) % pages.length] as Uint8Array),
      column,
      'LZ4_RAW',
      dim,
      out,
      (i) => ({ column: 'embedding', offset: 0, row: from + i }),
    )
  await decode(0, block) // compiled (and the workers warm) before it is timed
  const t0 = performance.now()
  for (let from = 0; from < decodes; from += block) await decode(from, Math.min(block, decodes - from))
  return (performance.now() - t0) / Math.max(1, decodes)
}

/** The cut's slack in benchGpuBatch (built indexes tune theirs; 1 is typical). */
const BATCH_SLACK = 1

/**
 * A batch search end to end from memory, stage by stage as the search pipeline runs a GPU batch
 * (query/pipeline.ts): `queries` against an IVF-PQ index of `rows` × 768 (nlist 1,024, m 96)
 * with codes resident — probing the centroids on the GPU (nprobe 32), the CPU's cut of those
 * lists by distance (their distances then the scan's biases), the list stage (ADC tables, the
 * scan of every kept list, top-k, read back of k × refine = 100 candidates a query), decoding
 * the distinct candidate rows' one-vector pages on the CPU (the refine stage's reads, from
 * memory), and refinement of every candidate on the GPU; the CPU (wasm, one thread) on a few of
 * the same queries. Then the search pipeline itself on the batch (memoryIndex over the same lists
 * and GPU, each candidate's page decoded on the decoders' threads): end to end. Synthetic model,
 * codes and vectors (speed does not depend on their values). Fills report.batchSearch; answers
 * the lines printed.
 */
export async function benchGpuBatch(ctx: GpuContext, o: GpuBenchOptions, report: GpuBenchReport): Promise<string> {
  const { rand, fill } = randomFiller(7)
  const n = Math.max(1, Math.round(1_000_000 * o.scale))
  const nq = Math.max(1, Math.round(10_000 * o.scale))
  const [dim, nlist, m, nprobe, keep] = [768, 1024, 96, 32, 100]
  const model: IvfPqModel = {
    params: { metric: 'l2', dim, nlist, m, nbits: 8, rows: n, indexedRows: n, sample: 0, seed: 1, coarseIterations: 0, pqIterations: 0 },
    centroids: fill(new Float32Array(nlist * dim)),
    codebooks: fill(new Float32Array(256 * dim)),
    layout: pqLayout(dim, m, 8),
  }
  // list l holds rows l · per … (CSR, as memoryIndex takes them; `lists` views of each)
  const per = Math.ceil(n / nlist)
  const csr = {
    listStart: Uint32Array.from({ length: nlist + 1 }, (_, l) => Math.min(n, l * per)),
    rowIds: Uint32Array.from({ length: n }, (_, r) => r),
    codes: new Uint8Array(n * m),
  }
  for (let i = 0; i < csr.codes.length; i++) csr.codes[i] = (rand() * 256) | 0
  const lists = Array.from({ length: nlist }, (_, l) => {
    const [start, end] = [csr.listStart[l] as number, csr.listStart[l + 1] as number]
    return { codes: csr.codes.subarray(start * m, end * m), rowIds: csr.rowIds.subarray(start, end) }
  })
  const queries = Array.from({ length: nq }, () => fill(new Float32Array(dim)))
  const wasm = await loadKernels('wasm')
  const scan = new GpuListScan(ctx, model, { kernels: wasm })
  try {
    const warm = Math.min(nq, 64)
    // the pipeline's stages in its order: probe (GPU), cut (CPU), list stage (GPU), the
    // candidates' pages decoded (CPU), refinement (GPU)
    await scan.probe(queries.slice(0, warm), nprobe, o.signal) // pipeline
    const p0 = performance.now()
    const probed = await scan.probe(queries, nprobe, o.signal)
    const probeMs = performance.now() - p0
    // each query's lists within (1 + slack) of its nearest, their distances the scan's biases
    // (compute/probe.ts pruneProbes); random data keeps about all of them
    const c0 = performance.now()
    const cut = pruneProbes(wasm, queries, probed, model.centroids, 'l2', BATCH_SLACK)
    const cutMs = performance.now() - c0
    const probes = cut.lists
    const coarse = cut.distances
    const at = (l: number) => lists[l]
    await scan.candidates(queries.slice(0, warm), probes.slice(0, warm), at, 'l2', keep, undefined, o.signal, coarse?.slice(0, warm)) // pipelines
    await scan.candidates(queries, probes, at, 'l2', keep, undefined, o.signal, coarse) // every list resident
    const t0 = performance.now()
    const found = await scan.candidates(queries, probes, at, 'l2', keep, undefined, o.signal, coarse)
    const ms = performance.now() - t0
    // once more, profiled: where the probe's and the list stage's time goes
    const profile = emptyListScanProfile()
    scan.profile = profile
    await scan.probe(queries, nprobe, o.signal)
    await scan.candidates(queries, probes, at, 'l2', keep, undefined, o.signal, coarse)
    scan.profile = undefined
    // the list stage with every block tiled, at each PER (the picked tunables restored after)
    const tiledListStage: BatchFigures['tiledListStage'] = []
    const picked = { ...ctx.tunables }
    try {
      for (const PER of PER_CHOICES) {
        Object.assign(ctx.tunables, { DIRECT: 0, PER })
        await scan.candidates(queries.slice(0, warm), probes.slice(0, warm), at, 'l2', keep, undefined, o.signal, coarse?.slice(0, warm))
        const l0 = performance.now()
        const tiledFound = await scan.candidates(queries, probes, at, 'l2', keep, undefined, o.signal, coarse)
        const tiledMs = performance.now() - l0
        const same = tiledFound.every(
          (r, qi) => r.rows.length === found[qi]?.rows.length && r.rows.every((row, i) => row === found[qi]?.rows[i]),
        )
        tiledListStage.push({ PER, ms: tiledMs, same })
      }
    } finally {
      Object.assign(ctx.tunables, picked)
    }
    // refinement of every query's candidates from their decoded vectors in memory (what the
    // pipeline hands GpuExact.refine: the batch's distinct candidate rows, uploaded, and the pairs)
    const slots = new Map<number, number>()
    const pairs = new Uint32Array(2 * found.reduce((s, c) => s + c.rows.length, 0))
    let next = 0
    for (const [qi, cands] of found.entries())
      for (const row of cands.rows) {
        if (!slots.has(row)) slots.set(row, slots.size)
        pairs[next++] = qi
        pairs[next++] = slots.get(row) as number
      }
    // decoding those rows' one-vector pages (CPU: the decoders' threads, and one thread): timed on
    // up to 100,000 decodes of up to 5,000 pages written as the builder writes them, then scaled
    // to every row
    const decodes = Math.min(slots.size, 100_000)
    const sampled = fill(new Float32Array(Math.min(decodes, 5_000) * dim))
    const decodeMs = (await pageDecodeMs(sampled, dim, decodes, o.decoders)) * slots.size
    const decodeThreads = o.decoders?.threads ?? 1
    const decodeOneThreadMs = decodeThreads > 1 ? (await pageDecodeMs(sampled, dim, decodes)) * slots.size : decodeMs
    const decoded = new Float32Array(slots.size * dim)
    const block = fill(new Float32Array(dim * 1024))
    for (let r = 0; r < slots.size; r += 1024) decoded.set(block.subarray(0, Math.min(1024, slots.size - r) * dim), r * dim)
    const packed = packRows(queries, dim)
    const exact = new GpuExact(ctx)
    await exact.refine('l2', packed.subarray(0, dim), 1, decoded, Math.min(slots.size, 1024), dim, Uint32Array.of(0, 0)) // pipeline
    const r0 = performance.now()
    await exact.refine('l2', packed, nq, decoded, slots.size, dim, pairs)
    const refineMs = performance.now() - r0
    const cpuSample = Math.min(pairs.length / 2, 100_000)
    const c1 = performance.now()
    for (let p = 0; p < cpuSample; p++)
      exactDistance('l2', queries[pairs[2 * p] as number] as Float32Array, decoded, (pairs[2 * p + 1] as number) * dim)
    const cpuRefineMs = ((performance.now() - c1) * (pairs.length / 2)) / Math.max(1, cpuSample)
    const stagesMs = probeMs + cutMs + ms + decodeMs + refineMs
    // the search pipeline itself on the same queries (query/pipeline.ts through memoryIndex: this
    // GPU's probe, list scan and refinement, and the CPU's work between them — the cut, candidates
    // checked, shortlisted, placed and paired, ranked, results made), each candidate's one-vector
    // page decoded as a file search decodes it (search/pageDecoding.ts, on the decoders' threads
    // into shared memory; the pages held in memory, 5,000 of them reused): the batch end to end,
    // but for reading the file's bytes (the stages alone leave the CPU's work between them out)
    const pages = vectorPages(sampled, dim)
    const column = { kind: 'list', element: 'FLOAT' } as const
    const pipeline = memoryIndex(model, csr, () => block.subarray(0, dim), wasm, {
      gpu: scan,
      gpuProbe: true,
      vectors: {
        read: (rows, out) =>
          decodePages(
            o.decoders,
            rows.map((row) => pages[row % pages.length] as Uint8Array),
            column,
            'LZ4_RAW',
            dim,
            out,
            (i) => ({ column: 'embedding', offset: 0, row: rows[i] as number }),
          ),
        buffer: (size) => (o.decoders ? sharedFloats(size) : new Float32Array(size)),
      },
    })
    const search = { k: keep / 10, nprobe, refine: 10, slack: BATCH_SLACK, signal: o.signal }
    await pipeline.search(queries.slice(0, warm), search)
    const e0 = performance.now()
    const results = await pipeline.search(queries, search)
    const pipelineMs = performance.now() - e0
    const pipelineStages = results[0]?.stats.msByStage ?? (Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>)
    const total = pipelineMs
    const listsPerQuery = probes.reduce((s, p) => s + p.length, 0) / nq
    const scanned = probes.reduce((s, p) => s + Array.from(p).reduce((t, l) => t + (lists[l]?.rowIds.length ?? 0), 0), 0)
    // the CPU (wasm) doing the same scan for a few of the queries
    const cpu = new ListScanner(model, wasm)
    const sample = Math.min(nq, 20)
    const s0 = performance.now()
    for (let qi = 0; qi < sample; qi++) {
      const top = new TopK(keep)
      for (const l of probes[qi] as Uint32Array) {
        const list = lists[l] as { codes: Uint8Array; rowIds: Uint32Array }
        cpu.scan(queries[qi] as Float32Array, 'l2', l, list.codes, list.rowIds, top)
      }
    }
    const cpuQps = sample / ((performance.now() - s0) / 1000)
    report.batchSearch = {
      queries: nq,
      rows: n,
      dim,
      nlist,
      m,
      nprobe,
      listsPerQuery,
      candidatesPerQuery: keep,
      probeMs,
      cutMs,
      listStageMs: ms,
      tiledListStage,
      decodeMs,
      decodeThreads,
      decodeOneThreadMs,
      refineMs,
      refineRows: slots.size,
      stagesMs,
      pipelineMs,
      pipelineStages,
      totalMs: total,
      cpuRefineMs,
      cpuQueriesPerSecond: cpuQps,
      profile,
    }
    return (
      `batch IVF-PQ search, ${nq.toLocaleString('en')} queries × ${n.toLocaleString('en')} vectors (nlist ${nlist}, m ${m}, ` +
      `nprobe ${nprobe}, k × refine ${keep}), codes resident: probing the ${nlist} centroids on the GPU ${probeMs.toFixed(0)} ms; ` +
      `the cut (CPU, slack ${BATCH_SLACK}: ${listsPerQuery.toFixed(1)} lists a query kept) ${cutMs.toFixed(0)} ms; ` +
      `list stage (tables + scan + top-k + read back) ${ms.toFixed(0)} ms — ${(nq / (ms / 1000)).toFixed(0)} queries/s, ` +
      `${((scanned * m) / 1e6 / ms).toFixed(0)} GB/s of codes scanned effective (CPU, wasm, 1 thread: ${cpuQps.toFixed(1)} queries/s); ` +
      `decoding the ${slots.size.toLocaleString('en')} candidate rows' pages (CPU, ${decodeThreads} thread${decodeThreads > 1 ? `s; 1 thread: ~${decodeOneThreadMs.toFixed(0)} ms` : ''}) ~${decodeMs.toFixed(0)} ms; ` +
      `refinement of the ${(pairs.length / 2).toLocaleString('en')} candidates ${refineMs.toFixed(0)} ms ` +
      `(CPU, 1 thread: ~${cpuRefineMs.toFixed(0)} ms); those stages alone ${stagesMs.toFixed(0)} ms\n` +
      `the search pipeline on the batch, end to end from memory (the same GPU stages, the CPU's work between them, ` +
      `the candidates' pages decoded on ${decodeThreads} thread${decodeThreads > 1 ? 's' : ''}): ` +
      `${pipelineMs.toFixed(0)} ms (${STAGES.map((s) => `${s} ${pipelineStages[s].toFixed(0)}`).join(', ')})\n` +
      `profiled (stages submitted apart): probe: distances and the nearest lists picked (GPU, read back) ${profile.probeGpuMs.toFixed(0)} ms, ` +
      `sorted (CPU) ${profile.probeSortMs.toFixed(0)} ms; list stage in ${profile.chunks} chunks: ` +
      `lists uploaded ${profile.residentMs.toFixed(0)} ms, chunks prepared (CPU) ${profile.prepareMs.toFixed(0)} ms, ` +
      `tables ${profile.tablesMs.toFixed(0)} ms, scan ${profile.scanMs.toFixed(0)} ms, ` +
      `top-k + read back ${profile.topKAndReadMs.toFixed(0)} ms, merged (CPU) ${profile.mergeMs.toFixed(0)} ms\n` +
      `the list stage with every block tiled (blocks going on through a query's lists): ${tiledListStage
        .map((t) => `PER ${t.PER} ${t.ms.toFixed(0)} ms${t.same ? '' : ' (other candidates!)'}`)
        .join(', ')} — against ${ms.toFixed(0)} ms with the picked tunables (DIRECT ${picked.DIRECT}, PER ${picked.PER})`
    )
  } finally {
    scan.release()
  }
}

/** The WebGPU issue's targets (an H100/H200, data resident, one run). */
export const TARGETS = { ofCopy: 0.7, batchMs: 2000, buildMs: 30_000 } as const

/**
 * The report against the targets, a line each: the kernels a search uses (the PQ scan's entry
 * point for full blocks, exact L2 and refine at the LANES searched with; their largest size) as a
 * share of the copy, the 10,000-query batch end to end, the 1 M × 768 build — "met" or "missed",
 * or why it was not measured at the target's size (a smaller scale, a page without the build).
 */
export function targetLines(report: GpuBenchReport): string[] {
  const pct = (x: number) => `${(100 * x).toFixed(0)} %`
  const verdict = (ok: boolean) => (ok ? 'met' : 'missed')
  const out: string[] = []
  // a kernel's largest size measured: bytes per pass grow with n × (dim or m)
  const size = (k: Record<string, unknown>) => (k.n as number) * ((k.dim ?? k.m) as number)
  const largest = (rows: Array<Record<string, unknown>>) =>
    rows.reduce<Record<string, unknown> | undefined>((a, r) => (a && size(a) >= size(r) ? a : r), undefined)
  const used = [
    ['PQ scan', largest(report.kernels.filter((k) => k.kernel === 'pqScan' && k.used))],
    [
      'exact L2',
      largest(
        report.kernels.filter(
          (k) => k.kernel === 'exactL2' && k.lanes === report.tunables.LANES && !!k.staged === !!report.tunables.STAGED,
        ),
      ),
    ],
    ['refine', largest(report.kernels.filter((k) => k.kernel === 'refinePairs' && k.lanes === report.tunables.REFINE_LANES))],
  ] as const
  for (const [name, k] of used) {
    if (!k) continue
    const variant = k.variant ? `${k.variant as string}, ` : `LANES ${k.lanes as number}${k.staged ? ', staged' : ''}, `
    out.push(
      `${name} (${variant}${(k.n as number).toLocaleString('en')} × ${(k.dim ?? k.m) as number}): ${pct(k.ofCopy as number)} of the copy's bandwidth — target ≥ ${pct(TARGETS.ofCopy)}: ${verdict((k.ofCopy as number) >= TARGETS.ofCopy)}`,
    )
  }
  const b = report.batchSearch
  if (b) {
    const full = b.queries >= 10_000 && b.rows >= 1_000_000
    out.push(
      `batch of ${b.queries.toLocaleString('en')} queries over ${b.rows.toLocaleString('en')} × ${b.dim}, end to end from memory: ${b.totalMs.toFixed(0)} ms — target ≤ ${TARGETS.batchMs.toLocaleString('en')} ms for 10,000 over 1 M: ${full ? verdict(b.totalMs <= TARGETS.batchMs) : 'not measured at that size'}`,
    )
  }
  const build = report.build as { rows: number; dim: number; gpuMs: { train: number; encode: number; tune: number } } | undefined
  if (build) {
    const ms = build.gpuMs.train + build.gpuMs.encode + build.gpuMs.tune
    out.push(
      `build of ${build.rows.toLocaleString('en')} × ${build.dim} in memory: ${(ms / 1000).toFixed(1)} s — target ≤ ${TARGETS.buildMs / 1000} s for 1 M × 768: ${build.rows >= 1_000_000 ? verdict(ms <= TARGETS.buildMs) : 'not measured at that size'}`,
    )
  } else out.push('build: not measured here (bench:gpu measures it)')
  return out
}

/** What the context searches with, in the benchmark's words (its first lines). */
export function tuningLines(ctx: GpuContext): string {
  const tuning = ctx.tuning
  const { LANES, STAGED, REFINE_LANES, DIRECT, BINS } = ctx.tunables
  return tuning.source === 'defaults'
    ? `tunables: the defaults (${tuning.why})`
    : `tunables: LANES ${LANES}, STAGED ${STAGED}, REFINE_LANES ${REFINE_LANES}, DIRECT ${DIRECT}, BINS ${BINS} from a self-test (${tuning.source === 'self-test' ? `${tuning.ms.toFixed(0)} ms` : 'kept'}):\n  ${tuning.timings.lanes
        .map(
          (t) => `LANES ${t.LANES}: exact ${t.exactMs.toFixed(3)} ms (staged ${t.stagedMs.toFixed(3)}), refine ${t.refineMs.toFixed(3)} ms`,
        )
        .join('; ')}\n  ${tuning.timings.scan
        .map((t) => `blocks of ${t.length}: tiled ${t.tiledMs.toFixed(3)} ms, direct ${t.directMs.toFixed(3)} ms`)
        .join('; ')}\n  ${tuning.timings.bins.map((t) => `BINS ${t.BINS}: top-k ${t.ms.toFixed(3)} ms`).join('; ')}`
}

/**
 * Runs one section of bench:gpu; a failure (a limit this GPU has, a lost device) is printed and
 * kept in `report.errors`, and the caller goes on to the next section — a GPU session has one
 * run to bring back. `save` runs after it either way.
 */
export async function runSection(report: GpuBenchReport, name: string, run: () => Promise<void>, save: () => void): Promise<void> {
  const t0 = performance.now()
  try {
    await run()
  } catch (e) {
    const message = `${name}: ${(e as Error).message}`
    console.log(`\nsection failed — ${message}`)
    report.errors = [...(report.errors ?? []), message]
  } finally {
    const seconds = (performance.now() - t0) / 1000
    report.sectionSeconds = { ...report.sectionSeconds, [name]: seconds }
    console.log(`(${name}: ${seconds.toFixed(1)} s)`)
    save()
  }
}

/** A new report for ctx (kernels and batch figures filled in by the functions above). */
export function newReport(ctx: GpuContext, o: GpuBenchOptions): GpuBenchReport {
  return {
    date: new Date().toISOString(),
    adapter: ctx.adapter,
    scale: o.scale,
    reps: o.reps,
    tunables: { ...ctx.tunables },
    tuning: ctx.tuning,
    kernels: [],
  }
}

/** What bench.html shows: the figures (targets judged), the tuning lines, the kernel table (its header first) and the batch line. */
export interface PageBench {
  report: GpuBenchReport
  tuning: string
  rows: string[][]
  batch: string
}

/**
 * bench.html's run (in its worker, workers/gpuBench.worker.ts): the kernel table, then the batch
 * search, then the targets judged — bench:gpu's sections less the build's. Progress counts the
 * batch as one more step.
 */
export async function benchGpuPage(ctx: GpuContext, o: GpuBenchOptions): Promise<PageBench> {
  const total = KERNEL_STEPS + 1
  const report = newReport(ctx, o)
  const rows = await benchGpuKernels(ctx, { ...o, onProgress: (done, _, what) => o.onProgress?.(done, total, what) }, report)
  o.onProgress?.(KERNEL_STEPS, total, 'batch search')
  const batch = await benchGpuBatch(ctx, o, report)
  report.targets = targetLines(report)
  return { report, tuning: tuningLines(ctx), rows, batch }
}

/** Kernel time per pass (ms): `reps` passes in one submit after a warm-up; throws the first validation error instead of timing nothing. */
export async function timePasses(ctx: GpuContext, reps: number, run: (encoder: GPUCommandEncoder) => void): Promise<number> {
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
