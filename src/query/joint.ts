import type { Ranked } from '../compute/topk.js'
import type { JointSearch } from './pipeline.js'

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
  private readonly shortlists: Exchange<Shortlist, Array<Array<Uint32Array> | undefined>>

  constructor(members: number) {
    this.shortlists = new Exchange(members, shortlistOfAll)
  }

  /** The JointSearch of member `i` (each sends once). */
  member(i: number): JointSearch {
    return { shortlist: async (lists, k, keep, cut) => (await this.shortlists.send(i, { lists, k, keep, cut }))[i] }
  }

  fail(e: unknown): void {
    this.shortlists.fail(e)
  }
}

interface Shortlist {
  lists: Ranked[] | undefined
  k: number
  keep: number
  cut: number
}

/** What `members` send, each once, merged once all have. */
class Exchange<T, R> {
  private readonly sent: T[] = []
  private readonly from = new Set<number>()
  private readonly done: Promise<R>
  private settle!: (merged: R) => void
  private reject!: (e: unknown) => void

  constructor(
    private readonly members: number,
    private readonly merge: (sent: T[]) => R,
  ) {
    this.done = new Promise((resolve, reject) => {
      this.settle = resolve
      this.reject = reject
    })
    // a failure no member waits for any more is not an unhandled rejection
    this.done.catch(() => {})
  }

  send(member: number, value: T): Promise<R> {
    if (this.from.has(member)) throw new Error(`member ${member} sent twice`)
    this.from.add(member)
    this.sent[member] = value
    if (this.from.size === this.members) {
      try {
        this.settle(this.merge(this.sent))
      } catch (e) {
        this.reject(e)
      }
    }
    return this.done
  }

  fail(e: unknown): void {
    this.reject(e)
  }
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
    let count = 0
    let bound = Number.POSITIVE_INFINITY
    const kept: number[][] = sent.map(() => [])
    for (const e of entries) {
      if (count === keep || e.distance > bound) break
      ;(kept[e.member] as number[]).push(e.row)
      if (++count === k && e.distance > 0) bound = e.distance * (1 + cut)
    }
    for (const [member, rows] of kept.entries()) {
      const mine = out[member]
      if (mine) mine[q] = Uint32Array.from(rows)
    }
  }
  return out
}
