import type { InvertedLists, IvfPqModel, Metric } from '../index/model.js'
import { exactDistance, kernelKind, prepareQuery } from './metric.js'
import { probe } from './probe.js'
import { ListScanner } from './scan.js'
import { TopK } from './topk.js'

export interface SearchParams {
  k: number
  nprobe: number
  /** Candidates re-ranked exactly = k × refine (1 = no re-ranking beyond PQ order). */
  refine: number
}

export interface Hit {
  row: number
  distance: number
}

/**
 * IVF-PQ search over an index held in memory, with exact re-ranking from `vectorOf`. The same
 * stages (probe → scan → select → refine) as the range-request engine; used by tests and by
 * the build to check index quality without any I/O.
 */
export function searchInMemory(
  model: IvfPqModel,
  lists: InvertedLists,
  vectorOf: (row: number) => Float32Array,
  query: Float32Array,
  { k, nprobe, refine }: SearchParams,
  /** Reuse one scanner across queries (it holds the backend's copy of the codebooks). */
  scanner: ListScanner = new ListScanner(model),
): Hit[] {
  const { metric, nlist, m } = model.params
  const kind = kernelKind(metric)
  const q = prepareQuery(query, metric)
  const candidates = new TopK(k * Math.max(1, refine))
  for (const l of probe(q, model.centroids, nlist, kind, nprobe)) {
    const start = lists.listStart[l] as number
    const end = lists.listStart[l + 1] as number
    scanner.scan(q, kind, l, lists.codes.subarray(start * m, end * m), lists.rowIds.subarray(start, end), candidates)
  }
  const best = new TopK(k)
  for (const { row } of candidates.sorted()) best.push(exactDistance(metric, q, vectorOf(row), 0), row)
  return best.sorted()
}

/** Exact top-k over every row: ground truth for tests and benchmarks. */
export function searchExact(metric: Metric, data: Float32Array, rowIds: Uint32Array, query: Float32Array, k: number): Hit[] {
  const dim = query.length
  const q = prepareQuery(query, metric)
  const best = new TopK(k)
  for (let i = 0; i < rowIds.length; i++) best.push(exactDistance(metric, q, data, i * dim), rowIds[i] as number)
  return best.sorted()
}
