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
   * Several ranges in one request where the transport can (HTTP multi-range). Resolves to
   * undefined when it cannot, so the caller falls back to one request per range.
   */
  sliceMany?(ranges: Array<{ start: number; end: number }>, signal?: AbortSignal): Promise<Uint8Array[] | undefined>
}

export function fromBytes(bytes: Uint8Array | ArrayBuffer, name: string): ByteSource {
  const buf = bytes instanceof Uint8Array ? bytes.slice().buffer : bytes
  return { byteLength: buf.byteLength, name, slice: async (start, end) => buf.slice(start, end) }
}

/** Bytes and requests that reached the underlying source. */
export interface IoCounts {
  bytes: number
  requests: number
}

/** Counts what passes through to `inner`; wrap the raw source so cache hits are not counted. */
export class CountingSource implements ByteSource {
  readonly counts: IoCounts = { bytes: 0, requests: 0 }
  /**
   * A byte budget: a read that would take the count past `until` fails before it is asked
   * for, with an error naming `what` (a search's maxBytesPerQuery). Undefined: no limit.
   */
  budget: { until: number; what: string } | undefined
  constructor(readonly inner: ByteSource) {}

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
  get name() {
    return this.inner.name
  }
  async slice(start: number, end?: number, signal?: AbortSignal): Promise<ArrayBuffer> {
    this.charge((end ?? this.byteLength) - start)
    this.counts.requests++
    const buf = await this.inner.slice(start, end, signal)
    this.counts.bytes += buf.byteLength
    return buf
  }

  get sliceMany() {
    const many = this.inner.sliceMany?.bind(this.inner)
    if (!many) return undefined
    return async (ranges: Array<{ start: number; end: number }>, signal?: AbortSignal) => {
      this.charge(ranges.reduce((n, r) => n + (r.end - r.start), 0))
      const parts = await many(ranges, signal)
      if (parts) {
        this.counts.requests++
        for (const p of parts) this.counts.bytes += p.length
      }
      return parts
    }
  }
}
