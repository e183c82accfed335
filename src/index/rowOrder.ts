import { dot, l2sq } from '../compute/js.js'
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
  const line = new Float32Array(dim)
  for (let l = 0; l < nlist; l++) {
    const start = lists.listStart[l] as number
    const end = lists.listStart[l + 1] as number
    if (end - start <= LEAF) continue
    const rows = lists.rowIds.slice(start, end)
    const codes = lists.codes.slice(start * m, end * m)
    const at = Array.from(rows, (row) => slot(row) * dim)
    const order = split(
      Array.from(rows, (_, i) => i),
      { vectors, at, rows, dim, line },
    )
    for (const [i, from] of order.entries()) {
      lists.rowIds[start + i] = rows[from] as number
      lists.codes.set(codes.subarray(from * m, (from + 1) * m), (start + i) * m)
    }
    if ((l & 63) === 63) await checkpoint(signal)
  }
}

/** One list's vectors: entry i's at `at[i]` in `vectors`, its row `rows[i]`; `line` is scratch. */
interface Entries {
  vectors: Float32Array
  at: number[]
  rows: Uint32Array
  dim: number
  line: Float32Array
}

/** Entry positions in tree order (see orderWithinLists). */
function split(entries: number[], e: Entries): number[] {
  if (entries.length <= LEAF) return entries
  const { vectors, at, rows, dim, line } = e
  const farthestFrom = (from: number) => {
    let best = entries[0] as number
    let bestDistance = -1
    for (const i of entries) {
      const d = l2sq(vectors, at[from] as number, vectors, at[i] as number, dim)
      if (d > bestDistance) {
        bestDistance = d
        best = i
      }
    }
    return best
  }
  const a = farthestFrom(entries[0] as number)
  const b = farthestFrom(a)
  for (let j = 0; j < dim; j++) line[j] = (vectors[(at[b] as number) + j] as number) - (vectors[(at[a] as number) + j] as number)
  const sorted = entries
    .map((i) => ({ i, p: dot(vectors, at[i] as number, line, 0, dim) }))
    .sort((x, y) => x.p - y.p || (rows[x.i] as number) - (rows[y.i] as number))
    .map((x) => x.i)
  const half = sorted.length >> 1
  return [...split(sorted.slice(0, half), e), ...split(sorted.slice(half), e)]
}
