import { checkpoint } from '../errors.js'
import type { InvertedLists } from './model.js'

/** Nodes of at most this many entries keep their order (a few pages: read together anyway). */
const LEAF = 16

/**
 * Clustered rows: the entries of each list reordered so that near vectors sit near each other.
 * A query's refine candidates in a list are its nearest rows there, and rows stored list by list
 * put them in one stretch of pages per list; in row order (the input's) that stretch spans most
 * of the list, in this order a part of it, so the read planner merges fewer bytes of pages nobody
 * asked for. Each list is split recursively (a random-projection tree without randomness): the
 * entries projected on the line through the entry farthest from the first and the entry farthest
 * from that one, sorted by projection (ties: the lower row), halved at the median, down to LEAF.
 * About 2 · log2(size / LEAF) passes over the vectors (1 M × 100-d: a few seconds). Codes move
 * with their rows; deterministic.
 *
 * `vectors` holds vector `slot[row]` at slot · dim, in the space the metric searches (unit length
 * for cosine).
 */
export async function orderWithinLists(
  lists: InvertedLists,
  vectors: Float32Array,
  slot: (row: number) => number,
  dim: number,
  m: number,
  signal?: AbortSignal,
): Promise<void> {
  const nlist = lists.listStart.length - 1
  const line = new Float64Array(dim)
  for (let l = 0; l < nlist; l++) {
    const start = lists.listStart[l] as number
    const end = lists.listStart[l + 1] as number
    if (end - start <= LEAF) continue
    const rows = Array.from(lists.rowIds.subarray(start, end))
    const codes = new Map(rows.map((row, i) => [row, lists.codes.slice((start + i) * m, (start + i + 1) * m)]))
    const ordered = split(rows, vectors, slot, dim, line)
    for (const [i, row] of ordered.entries()) {
      lists.rowIds[start + i] = row
      lists.codes.set(codes.get(row) as Uint8Array, (start + i) * m)
    }
    if ((l & 63) === 63) await checkpoint(signal)
  }
}

/** `rows` in tree order (see orderWithinLists). */
function split(rows: number[], vectors: Float32Array, slot: (row: number) => number, dim: number, line: Float64Array): number[] {
  if (rows.length <= LEAF) return rows
  const at = (row: number) => slot(row) * dim
  const farthestFrom = (from: number) => {
    let best = rows[0] as number
    let bestDistance = -1
    for (const row of rows) {
      let d = 0
      for (let j = 0, a = at(from), b = at(row); j < dim; j++) {
        const t = (vectors[a + j] as number) - (vectors[b + j] as number)
        d += t * t
      }
      if (d > bestDistance) {
        bestDistance = d
        best = row
      }
    }
    return best
  }
  const a = farthestFrom(rows[0] as number)
  const b = farthestFrom(a)
  for (let j = 0, pa = at(a), pb = at(b); j < dim; j++) line[j] = (vectors[pb + j] as number) - (vectors[pa + j] as number)
  const projected = rows.map((row) => {
    let p = 0
    for (let j = 0, o = at(row); j < dim; j++) p += (vectors[o + j] as number) * (line[j] as number)
    return { row, p }
  })
  projected.sort((x, y) => x.p - y.p || x.row - y.row)
  const half = projected.length >> 1
  const sorted = projected.map((x) => x.row)
  return [...split(sorted.slice(0, half), vectors, slot, dim, line), ...split(sorted.slice(half), vectors, slot, dim, line)]
}
