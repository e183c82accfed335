import type { AsyncBuffer } from 'hyparquet'
import { ParquetSeekError } from '../errors.js'

/**
 * The one I/O interface: a byte length and ranged reads. Compatible with hyparquet's
 * AsyncBuffer; HTTP ranges, caching, counting and batching are wrappers around it.
 */
export interface ByteSource extends AsyncBuffer {
  /** A path or URL, for messages. */
  readonly name: string
  slice(start: number, end?: number, signal?: AbortSignal): Promise<ArrayBuffer>
  /**
   * True where a request costs next to nothing (a file on disk, a Blob): ranges are then never
   * read through gaps to save requests. Absent: a request costs a round trip (HTTP).
   */
  readonly local?: boolean
  /**
   * Several ranges in one request where the transport can (HTTP multi-range). Resolves to
   * undefined when it cannot, so the caller falls back to one request per range.
   */
  sliceMany?(ranges: Array<{ start: number; end: number }>, signal?: AbortSignal): Promise<Uint8Array[] | undefined>
}

export function fromBytes(bytes: Uint8Array | ArrayBuffer, name: string): ByteSource {
  const buf = bytes instanceof Uint8Array ? bytes.slice().buffer : bytes
  return { byteLength: buf.byteLength, name, local: true, slice: async (start, end) => buf.slice(start, end) }
}

/**
 * `source` as a reader that passes no signal sees it (hyparquet's, which calls `slice(start, end)`):
 * each read carries `signal`, so a ByteSource stops waiting for it once the signal aborts.
 */
export function withSignal(source: AsyncBuffer, signal: AbortSignal | undefined): AsyncBuffer {
  if (!signal) return source
  return { byteLength: source.byteLength, slice: (start, end) => (source as ByteSource).slice(start, end, signal) }
}

/** `parts` one after another in one array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Bytes and requests that reached the underlying source. */
export interface IoCounts {
  bytes: number
  requests: number
}

/**
 * Dependent round trips, measured where requests go out: a request's depth is one more than
 * that of the deepest request already answered when it was sent, so requests in flight
 * together share a depth (a wave) and a request that waited for an answer — its data, or a
 * free connection — starts the next. `deepest` grows by a query's round trips. One clock can
 * serve several sources read in parallel (a sidecar's files).
 */
export class RoundTripClock {
  deepest = 0
  private answered = 0
  /** A request leaves: its depth, for `done`. */
  send(): number {
    const depth = this.answered + 1
    this.deepest = Math.max(this.deepest, depth)
    return depth
  }
  done(depth: number): void {
    this.answered = Math.max(this.answered, depth)
  }
}

/**
 * Requests allowed in flight at once to one host, shared by the sources on it (a dataset's
 * shards, a sidecar and its files): a browser opens about 6 connections per host over HTTP/1.1,
 * however many files a query reads there. Waiting for a connection is not a round trip of its
 * own: a request's depth is taken when it gets one.
 */
export class ConnectionLimiter {
  private active = 0
  private readonly waiting: Array<() => void> = []
  constructor(readonly max: number) {}
  async acquire(): Promise<void> {
    if (this.active < this.max) {
      this.active++
      return
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve))
  }
  release(): void {
    const next = this.waiting.shift()
    if (next) next()
    else this.active--
  }
}

/** Counts what passes through to `inner`; wrap the raw source so cache hits are not counted. */
export class CountingSource implements ByteSource {
  readonly counts: IoCounts = { bytes: 0, requests: 0 }
  /**
   * A byte budget: a read that would take the count past `until` fails before it is asked
   * for, with an error naming `what` (a search's maxBytesPerQuery). Undefined: no limit.
   */
  budget: { until: number; what: string } | undefined
  constructor(
    readonly inner: ByteSource,
    readonly clock = new RoundTripClock(),
    /** Shared with the other sources on the same host, when given. */
    readonly limiter?: ConnectionLimiter,
  ) {}

  private charge(bytes: number): void {
    if (this.budget && this.counts.bytes + bytes > this.budget.until)
      throw new ParquetSeekError(
        `reading ${bytes} more bytes would pass ${this.budget.what}; raise it, or ask for less (fewer lists, a smaller k or refine)`,
        { file: this.name },
      )
  }
  get byteLength() {
    return this.inner.byteLength
  }
  get local() {
    return this.inner.local
  }
  get name() {
    return this.inner.name
  }
  async slice(start: number, end?: number, signal?: AbortSignal): Promise<ArrayBuffer> {
    this.charge((end ?? this.byteLength) - start)
    this.counts.requests++
    await this.limiter?.acquire()
    const depth = this.clock.send()
    try {
      const buf = await this.inner.slice(start, end, signal)
      this.counts.bytes += buf.byteLength
      return buf
    } finally {
      this.clock.done(depth)
      this.limiter?.release()
    }
  }

  /** Set once the transport answered a multi-range request without its parts: single ranges from then on. */
  private manyRefused = false

  get sliceMany() {
    const many = this.inner.sliceMany?.bind(this.inner)
    if (!many || this.manyRefused) return undefined
    return async (ranges: Array<{ start: number; end: number }>, signal?: AbortSignal) => {
      this.charge(ranges.reduce((n, r) => n + (r.end - r.start), 0))
      // a refused multi-range request (a 200 answer, cancelled unread) was still a request and
      // a round trip; it happens once, then this source plans single ranges
      this.counts.requests++
      await this.limiter?.acquire()
      const depth = this.clock.send()
      try {
        const parts = await many(ranges, signal)
        if (parts) for (const p of parts) this.counts.bytes += p.length
        else this.manyRefused = true
        return parts
      } finally {
        this.clock.done(depth)
        this.limiter?.release()
      }
    }
  }
}
