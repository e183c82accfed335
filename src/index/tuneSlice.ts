import type { Kernels } from '../compute/backend.js'
import type { GpuListScan } from '../compute/gpu/listScan.js'
import { kernelKind, prepareQuery } from '../compute/metric.js'
import { pruneProbes } from '../compute/probe.js'
import { ListScanner, ScoreCache, scanLists } from '../compute/scan.js'
import { entriesOf, type Ranked } from '../compute/topk.js'
import { coalesce, REQUEST_BYTES } from '../io/ranges.js'
import { memoryIndex } from '../query/memory.js'
import { type QueryPipeline, shortlist } from '../query/pipeline.js'
import type { InvertedLists, IvfPqModel } from './model.js'

/**
 * Where the file about to be written will hold each list and each row's vector page, as the
 * tune step plans it (tune.ts measure).
 */
export interface TuneLayout {
  /** Each list's first byte, lists in their storage order. */
  listAt: Float64Array
  listBytes: Float64Array
  /** Each row's place in the file's row order when rows are stored list by list; absent: the input's. */
  rank?: Uint32Array
  /** Each list entry's vector page: its first byte. */
  entryPages: Float64Array
  /** A vector page's bytes, framing included. */
  pageBytes: number
}

/** A share of the tune step's queries and what searching them needs: plain data a worker can be sent. */
export interface TuneShare {
  model: IvfPqModel
  lists: InvertedLists
  /** The share's queries (n × dim, prepared for the metric). */
  queries: Float32Array
  /** Each query's row (left out of its own results), or NO_ROW for a held-out query. */
  rowIds: Uint32Array
  /** Each query's true neighbours: its 10 nearest rows and those tied with the 10th (tune.ts truthOf). */
  truth: Uint32Array[]
  /** Results a query asks for: 10, or 11 for a row of the data (one of them itself). */
  k: number
  layout: TuneLayout
  /**
   * Every indexed vector, and each row's among them (−1: none): the queries are searched as any
   * search runs (probe, scan, exact re-ranking). Absent (a streaming build): recall counts the
   * true neighbours among the PQ candidates, which exact re-ranking would return.
   */
  vectors?: { data: Float32Array; slot: Int32Array }
  /** Budget of the share's caches of PQ scores (the whole tune's, in proportion to its queries). */
  scoreBytes: number
}

/** One setting the tune tries; `cut`: the search option refineSlack (Infinity: every candidate re-ranked). */
export interface TuneSetting {
  nprobe: number
  refine: number
  slack: number | undefined
  cut: number
}

/**
 * The tune step's queries of one thread, searched at each setting it tries (tune.ts measure):
 * every figure is a sum over queries (true neighbours found, bytes, requests), so the tune's
 * choice, and the file written, are the same however the queries are shared between threads.
 * The same queries are searched at every setting: each (query, list)'s PQ scores are computed
 * once, and each (query, row)'s exact distance.
 */
export class TuneSlice {
  private readonly prepared: Float32Array[]
  private readonly truth: Array<Set<number>>
  private readonly pipeline: QueryPipeline | undefined
  private readonly scanner: ListScanner
  private readonly scores: ScoreCache
  private readonly kind: 'l2' | 'ip'

  constructor(
    private readonly share: TuneShare,
    private readonly kernels: Kernels,
    private readonly gpuScan?: GpuListScan,
  ) {
    const { model, lists, queries, layout, vectors } = share
    const { dim, metric, nlist } = model.params
    const count = share.rowIds.length
    this.kind = kernelKind(metric)
    this.prepared = Array.from({ length: count }, (_, qi) => prepareQuery(queries.subarray(qi * dim, (qi + 1) * dim), metric))
    this.truth = share.truth.map((t) => new Set(t))
    this.scanner = new ListScanner(model, kernels)
    this.scores = new ScoreCache(nlist, count, share.scoreBytes, model.params.rows)
    if (vectors) {
      const { data, slot } = vectors
      const vectorOf = (row: number) => {
        const i = slot[row] as number
        return data.subarray(i * dim, (i + 1) * dim)
      }
      // what would come with a query's reads in the file about to be written is searched too
      this.pipeline = memoryIndex(model, lists, vectorOf, kernels, {
        gpu: gpuScan,
        // one cache for the pipeline's searches and the costs' scans: the same queries, the same scores
        scoreCache: this.scores,
        planned: layout,
      })
    }
  }

  /** True neighbours found among each query's 10 results (or its candidates, without the vectors), and those wanted. */
  async recall(s: TuneSetting, signal?: AbortSignal): Promise<{ hits: number; wanted: number }> {
    const { k, rowIds } = this.share
    const found = this.pipeline
      ? (
          await this.pipeline.search(this.prepared, {
            k,
            nprobe: s.nprobe,
            refine: s.refine,
            slack: s.slack,
            refineSlack: s.cut,
            signal,
          })
        ).map((r) => r.results)
      : (await this.candidates(s, signal)).found.map((list) => entriesOf(this.cutOf(list, s.cut)))
    let hits = 0
    let wanted = 0
    for (let qi = 0; qi < rowIds.length; qi++) {
      const self = rowIds[qi]
      // the 10 nearest rows and those tied with the 10th: any 10 of them are a right answer
      const want = this.truth[qi] as Set<number>
      wanted += Math.min(10, want.size)
      const others = (found[qi] ?? []).filter((h) => h.row !== self)
      // re-ranked: the 10 nearest other rows; candidates only: every true neighbour among them
      let found10 = 0
      for (const h of this.pipeline ? others.slice(0, 10) : others) if (want.has(h.row)) found10++
      hits += Math.min(10, found10)
    }
    return { hits, wanted }
  }

  /**
   * The queries' reads at this setting as the read planner makes them (io/ranges.ts coalesce):
   * their bytes, plus REQUEST_BYTES a request, and the requests.
   */
  async cost(s: TuneSetting, signal?: AbortSignal): Promise<{ bytes: number; requests: number }> {
    const { listAt, listBytes, rank, pageBytes } = this.share.layout
    const { probes, found } = await this.candidates(s, signal)
    let bytes = 0
    let requests = 0
    for (const [qi, probed] of probes.entries()) {
      const listReads = Array.from(probed, (l) => ({ start: listAt[l] as number, end: (listAt[l] as number) + (listBytes[l] as number) }))
      const pageReads = Array.from(this.cutOf(found[qi] as Ranked, s.cut, 10 * s.refine).rows, (row) => {
        const start = (rank ? (rank[row] as number) : row) * pageBytes
        return { start, end: start + pageBytes }
      })
      for (const reads of [listReads, pageReads])
        for (const r of coalesce(reads, REQUEST_BYTES)) {
          bytes += r.end - r.start + REQUEST_BYTES
          requests++
        }
    }
    return { bytes, requests }
  }

  /** Each query's probed lists and its k × refine best PQ candidates. */
  private async candidates(s: TuneSetting, signal: AbortSignal | undefined): Promise<{ probes: Uint32Array[]; found: Ranked[] }> {
    const { model, lists, k } = this.share
    const { m } = model.params
    const { kernels, prepared, kind } = this
    const { lists: nearest, distances } = this.scores.nearest(kernels, prepared, model.centroids, kind, s.nprobe)
    const probes =
      s.slack === undefined
        ? nearest
        : pruneProbes(
            kernels,
            prepared,
            nearest,
            model.centroids,
            kind,
            s.slack,
            { rows: k, sizeOf: (l) => (lists.listStart[l + 1] as number) - (lists.listStart[l] as number) },
            distances,
          ).lists
    const listOf = (l: number) => {
      const start = lists.listStart[l] as number
      const end = lists.listStart[l + 1] as number
      return { codes: lists.codes.subarray(start * m, end * m), rowIds: lists.rowIds.subarray(start, end) }
    }
    // spilled rows may come twice: twice as many kept, each row then once (as a search does)
    const keep = k * s.refine * (lists.spillStart ? 2 : 1)
    const scanned = this.gpuScan
      ? await this.gpuScan.candidates(prepared, probes, listOf, kind, keep, undefined, signal)
      : await scanLists(this.scanner, prepared, probes, listOf, kind, keep, undefined, signal, this.scores)
    const found = lists.spillStart ? scanned.map((list) => shortlist(list, k, k * s.refine, Number.POSITIVE_INFINITY)) : scanned
    return { probes, found }
  }

  /** The first `keep` PQ candidates as a search re-ranks them under a cut (query/pipeline.ts shortlist). */
  private cutOf(list: Ranked, cut: number, keep = list.rows.length): Ranked {
    return this.kind === 'l2'
      ? shortlist(list, this.share.k, keep, cut)
      : { rows: list.rows.subarray(0, keep), distances: list.distances.subarray(0, keep) }
  }
}
