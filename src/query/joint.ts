import type { Ranked } from '../compute/topk.js'
import { type JointSearch, shortlist } from './pipeline.js'

/**
 * Searches of several indexes run as one (pipeline.ts JointSearch): `members` indexes each send
 * their queries' PQ shortlists and wait until all have. Each query's entries of all members are
 * ranked together (ties: the earlier member, then the lower row) and the first `keep` kept, down
 * to (1 + `cut`) times the k-th one's distance — the largest keep and cut any member sent, as one
 * index's shortlist would — and each member gets back its own rows of them, nearest first. A
 * member sending none (no PQ estimates) keeps its own. `fail` ends the wait for all: a member
 * that fails before it sends would leave the others waiting.
 */
export class JointSearches {
  private readonly sent: Shortlist[] = []
  private readonly from = new Set<number>()
  private readonly done: Promise<Array<Array<Uint32Array> | undefined>>
  private settle!: (kept: Array<Array<Uint32Array> | undefined>) => void
  private reject!: (e: unknown) => void

  constructor(private readonly members: number) {
    this.done = new Promise((resolve, reject) => {
      this.settle = resolve
      this.reject = reject
    })
    // a failure no member waits for any more is not an unhandled rejection
    this.done.catch(() => {})
  }

  /** The JointSearch of member `i` (each sends once). */
  member(i: number): JointSearch {
    return {
      shortlist: async (lists, k, keep, cut) => {
        if (this.from.has(i)) throw new Error(`member ${i} sent twice`)
        this.from.add(i)
        this.sent[i] = { lists, k, keep, cut }
        if (this.from.size === this.members) {
          try {
            this.settle(shortlistOfAll(this.sent))
          } catch (e) {
            this.reject(e)
          }
        }
        return (await this.done)[i]
      },
    }
  }

  fail(e: unknown): void {
    this.reject(e)
  }
}

interface Shortlist {
  lists: Ranked[] | undefined
  k: number
  keep: number
  cut: number
}

function shortlistOfAll(sent: Shortlist[]): Array<Array<Uint32Array> | undefined> {
  const given = sent.filter((s) => s.lists)
  const queries = given[0]?.lists?.length ?? 0
  const k = Math.max(0, ...given.map((s) => s.k))
  const keep = Math.max(0, ...given.map((s) => s.keep))
  const cut = Math.max(0, ...given.map((s) => s.cut))
  const out = sent.map((s) => (s.lists ? Array.from({ length: queries }, () => new Uint32Array(0)) : undefined))
  const entries: Array<{ member: number; row: number; distance: number }> = []
  for (let q = 0; q < queries; q++) {
    entries.length = 0
    for (const [member, { lists }] of sent.entries()) {
      const ranked = lists?.[q]
      if (ranked)
        for (let i = 0; i < ranked.rows.length; i++)
          entries.push({ member, row: ranked.rows[i] as number, distance: ranked.distances[i] as number })
    }
    entries.sort((a, b) => a.distance - b.distance || a.member - b.member || a.row - b.row)
    // one index's cut over all of them, each entry named by its place in the ranking
    const all = { rows: Uint32Array.from(entries, (_, i) => i), distances: Float64Array.from(entries, (e) => e.distance) }
    const kept: number[][] = sent.map(() => [])
    for (const at of shortlist(all, k, keep, cut).rows) {
      const e = entries[at] as (typeof entries)[number]
      ;(kept[e.member] as number[]).push(e.row)
    }
    for (const [member, rows] of kept.entries()) {
      const mine = out[member]
      if (mine) mine[q] = Uint32Array.from(rows)
    }
  }
  return out
}
