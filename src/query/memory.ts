import { jsKernels, type Kernels } from '../compute/backend.js'
import type { GpuListScan } from '../compute/gpu/listScan.js'
import { exactDistance, prepareQuery } from '../compute/metric.js'
import type { ScoreCache } from '../compute/scan.js'
import { TopK } from '../compute/topk.js'
import type { ListView } from '../index/blob.js'
import type { InvertedLists, IvfPqModel, Metric } from '../index/model.js'
import { CountingSource, fromBytes } from '../io/source.js'
import { listExtents } from './adjacent.js'
import { type IndexKind, QueryPipeline } from './pipeline.js'

export interface Hit {
  row: number
  distance: number
}

export interface MemoryIndexOptions {
  /** Candidate scans and refinement on the GPU. */
  gpu?: GpuListScan
  /**
   * Large batches probe on the GPU too (bench:gpu's batch); off by default, so the build's tune
   * searches the lists its CPU probe prices (tune.ts `cost`), without the GPU's float rounding
   * between nearly tied lists.
   */
  gpuProbe?: boolean
  /** Bytes of decoded vectors refined at once (PipelineOptions.refineBlockBytes: tests). */
  refineBlockBytes?: number
  /** PQ scores kept between searches of the same queries (the tune step). */
  scoreCache?: ScoreCache
  /**
   * Where a file would store each list (its first byte and its size) and each list entry's vector
   * page (`entryPages`, `pageBytes` each): searches then also take in what would come with their
   * reads from a host without multi-range requests (the tune step, measuring the file it is about
   * to write; query/adjacent.ts).
   */
  planned?: { listAt: Float64Array; listBytes: Float64Array; entryPages: Float64Array; pageBytes: number }
  /**
   * How the refine stage reads rows' vectors (into `out`, the i-th at i · dim), where `vectorOf`
   * is not enough: bench:gpu decodes one-vector pages there, on its decoding threads, as a file
   * search does; `buffer` makes room for them (IndexKind.vectorBuffer).
   */
  vectors?: { read(rows: number[], out: Float32Array): Promise<void>; buffer?(n: number): Float32Array }
}

/**
 * An index held in memory (lists in CSR form, vectors from `vectorOf`), searched by the same
 * pipeline as a file, without any I/O: tests, the build checking its own index, bench:gpu's batch.
 */
export function memoryIndex(
  model: IvfPqModel,
  lists: InvertedLists,
  vectorOf: (row: number) => Float32Array,
  kernels: Kernels = jsKernels,
  { gpu, gpuProbe = false, refineBlockBytes, scoreCache, planned, vectors }: MemoryIndexOptions = {},
): QueryPipeline {
  const { m, dim } = model.params
  const nothing = new CountingSource(fromBytes(new Uint8Array(0), 'memory'))
  // each list entry's planned page, and its length (zeros without a plan)
  const entryPages = planned?.entryPages ?? new Float64Array(lists.rowIds.length)
  const entryLengths = new Uint32Array(lists.rowIds.length).fill(planned?.pageBytes ?? 0)
  const kind: IndexKind = {
    file: 'memory',
    // lists holding spilled rows: a row may come from two of them
    model: lists.spillStart && !model.params.spilled ? { ...model, params: { ...model.params, spilled: true } } : model,
    rows: model.params.rows,
    scoring: 'pq',
    counters: [nothing],
    clock: nothing.clock,
    listSize: (l) => (lists.listStart[l + 1] as number) - (lists.listStart[l] as number),
    readLists: async (ls) =>
      ls.map((l): ListView => {
        const start = lists.listStart[l] as number
        const end = lists.listStart[l + 1] as number
        return {
          codes: lists.codes.subarray(start * m, end * m),
          rowIds: lists.rowIds.subarray(start, end),
          pageOffsets: entryPages.subarray(start, end),
          pageLengths: entryLengths.subarray(start, end),
        }
      }),
    readVectors: async (rows, _place, out) => {
      if (vectors) await vectors.read(rows, out)
      else for (const [i, row] of rows.entries()) out.set(vectorOf(row).subarray(0, dim), i * dim)
      return new Uint8Array(rows.length).fill(1)
    },
    ...(vectors?.buffer && { vectorBuffer: vectors.buffer }),
    readColumns: async () => new Map(),
    columnNames: new Set(),
    ...(planned && {
      layout: {
        lists: listExtents(
          planned.listAt,
          Float64Array.from(planned.listAt, (at, l) =>
            (lists.listStart[l + 1] as number) > (lists.listStart[l] as number) ? at + (planned.listBytes[l] as number) : at,
          ),
        ),
        free: true,
      },
    }),
  }
  return new QueryPipeline(kind, {
    kernels,
    gpu,
    gpuProbe,
    refineBlockBytes,
    cacheBytes: 0,
    maxBytesPerQuery: Number.POSITIVE_INFINITY,
    connections: 1,
    scoreCache,
  })
}

/** Exact top-k over every row: ground truth for tests and benchmarks. */
export function searchExact(metric: Metric, data: Float32Array, rowIds: Uint32Array, query: Float32Array, k: number): Hit[] {
  const dim = query.length
  const q = prepareQuery(query, metric)
  const best = new TopK(k)
  for (let i = 0; i < rowIds.length; i++) best.push(exactDistance(metric, q, data, i * dim), rowIds[i] as number)
  return best.sorted()
}
