import type { CachedSource } from './cache.js'
import { DEFAULT_CONCURRENCY, DEFAULT_GAP, readRanges } from './ranges.js'
import type { ByteSource } from './source.js'

interface Pending {
  start: number
  end: number
  resolve: (b: ArrayBuffer) => void
  reject: (e: unknown) => void
}

/**
 * Collects the reads a consumer (hyparquet, when projecting result columns or reading a sidecar's
 * candidate vectors) issues in the same turn of the event loop and fetches them together,
 * coalesced, and keeps them in the cache (round trips are counted where the requests go out:
 * the CountingSource's clock).
 */
export class BatchingSource implements ByteSource {
  private pending: Pending[] = []
  private scheduled = false

  constructor(
    readonly inner: CachedSource,
    readonly gap = DEFAULT_GAP,
    readonly concurrency = DEFAULT_CONCURRENCY,
    readonly signal?: AbortSignal,
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

  slice(start: number, end = this.byteLength): Promise<ArrayBuffer> {
    const hit = this.inner.peek(start, end)
    if (hit) return Promise.resolve(hit.slice().buffer)
    return new Promise((resolve, reject) => {
      this.pending.push({ start, end, resolve, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setTimeout(() => void this.flush(), 0)
      }
    })
  }

  private async flush() {
    const batch = this.pending
    this.pending = []
    this.scheduled = false
    try {
      const bodies = await readRanges(this.inner.inner, batch, { gap: this.gap, concurrency: this.concurrency, signal: this.signal })
      for (const [i, p] of batch.entries()) {
        // kept: offset indexes and pages read again by the next query cost no round trip
        this.inner.remember(p.start, (bodies[i] as Uint8Array).slice())
        p.resolve((bodies[i] as Uint8Array).slice().buffer)
      }
    } catch (e) {
      for (const p of batch) p.reject(e)
    }
  }
}
