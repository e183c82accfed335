import { type Range, type ReadRangesOptions, readRanges } from './ranges.js'
import type { ByteSource } from './source.js'

interface Entry {
  start: number
  bytes: Uint8Array
}

/**
 * Serves reads that fall inside bytes already fetched: pinned ranges (the file's tail, read
 * at open) and an LRU of recent reads under a byte budget. Everything else goes to `inner`.
 */
export class CachedSource implements ByteSource {
  private pinned: Entry[] = []
  private lru = new Map<string, Entry>()
  private lruBytes = 0

  constructor(
    readonly inner: ByteSource,
    readonly budgetBytes = 64 << 20,
  ) {}

  get byteLength() {
    return this.inner.byteLength
  }
  get name() {
    return this.inner.name
  }
  get local() {
    return this.inner.local
  }

  pin(start: number, bytes: Uint8Array): void {
    this.pinned.push({ start, bytes })
  }

  /** The bytes for [start, end) when a pinned range holds them all, or undefined. */
  pinnedView(start: number, end: number): Uint8Array | undefined {
    for (const e of this.pinned) {
      if (start >= e.start && end <= e.start + e.bytes.length) return e.bytes.subarray(start - e.start, end - e.start)
    }
    return undefined
  }

  /** The cached bytes for [start, end), or undefined. */
  peek(start: number, end: number): Uint8Array | undefined {
    const pinned = this.pinnedView(start, end)
    if (pinned) return pinned
    for (const [key, e] of this.lru) {
      if (start >= e.start && end <= e.start + e.bytes.length) {
        this.lru.delete(key)
        this.lru.set(key, e) // most recently used goes last
        return e.bytes.subarray(start - e.start, end - e.start)
      }
    }
    return undefined
  }

  async slice(start: number, end = this.byteLength, signal?: AbortSignal): Promise<ArrayBuffer> {
    const hit = this.peek(start, end)
    if (hit) return hit.slice().buffer
    const buf = await this.inner.slice(start, end, signal)
    this.remember(start, new Uint8Array(buf))
    return buf
  }

  remember(start: number, bytes: Uint8Array): void {
    if (bytes.length > this.budgetBytes / 4) return
    const key = `${start}:${bytes.length}`
    if (this.lru.has(key)) return
    this.lru.set(key, { start, bytes })
    this.lruBytes += bytes.length
    for (const [k, e] of this.lru) {
      if (this.lruBytes <= this.budgetBytes) break
      this.lru.delete(k)
      this.lruBytes -= e.bytes.length
    }
  }
}

/**
 * readRanges for a search: ranges inside pinned bytes (the tail read at open, which on a small
 * file holds the lists and some vector pages too) come from memory, the rest from `cached.inner`
 * as readRanges plans them. One view per range, in input order.
 */
export async function readRangesPinned(cached: CachedSource, ranges: Range[], o: ReadRangesOptions): Promise<Uint8Array[]> {
  const views = ranges.map((r) => cached.pinnedView(r.start, r.end))
  const missing = ranges.filter((_, i) => !views[i])
  const bodies = missing.length ? await readRanges(cached.inner, missing, o) : []
  let next = 0
  return views.map((view) => view ?? (bodies[next++] as Uint8Array))
}
