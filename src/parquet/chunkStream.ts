import type { AsyncBuffer, OffsetIndex } from 'hyparquet'
import { ParquetSeekError, throwIfAborted } from '../errors.js'
import { type ChunkInfo, chunkSpans } from './pageLocations.js'

type PageLocation = OffsetIndex['page_locations'][number]

/**
 * A column chunk with no offset index, read from a remote source once, front to back, a block of
 * rows at a time. Walking its pages first (walkChunkPages) would download it twice, and decoding
 * it whole takes many times its bytes (a pyarrow row group of 200,000 × 384 floats: 3 GiB); here
 * its pages are found as its bytes arrive, and only the bytes from the block being read on are
 * held (with the dictionary page, which every block's pages need).
 *
 * Use: `reach(end)`, then read rows up to `end` through `view` with `pages` as the chunk's page
 * locations, then `release(end)`; blocks in order.
 */
export class ChunkStream {
  /** Bytes held, relative to the chunk, contiguous and in order. */
  private held: Array<{ at: number; bytes: Uint8Array }> = []
  /** Bytes of the chunk asked for so far. */
  private fetched = 0
  private ahead?: Promise<Uint8Array>
  /** The bytes before the first data page (the dictionary page). */
  private dictionary?: Uint8Array
  private readonly walk: ReturnType<typeof chunkSpans>
  /** Data pages found so far, at their places in the file (chunkSpans: each begins a row). */
  readonly pages: PageLocation[] = []
  /** Whether an entry of `pages` joins pages (one began inside a row): not an offset index. */
  spans = false
  /** Whether the chunk has been walked to its end (`pages` is then its page table). */
  ended = false

  constructor(
    private readonly source: AsyncBuffer,
    private readonly start: number,
    private readonly length: number,
    private readonly info: ChunkInfo,
    /** Bytes asked of the source at once (the next window is asked for while this one is read). */
    private readonly windowBytes: number,
    private readonly signal?: AbortSignal,
  ) {
    this.walk = chunkSpans(length, (at, least) => this.bytesFrom(at, least), start, info)
  }

  /**
   * Walks on until a page beginning at or after group row `row` is found, or the chunk ends, so
   * that `pages` locates every page holding a row before `row`.
   */
  async reach(row: number): Promise<void> {
    while (!this.ended && !(Number(this.pages.at(-1)?.first_row_index ?? -1) >= row)) {
      const { value, done } = await this.walk.next()
      if (done) this.ended = true
      else {
        if (this.pages.length === 0) this.dictionary = this.copy(0, Number(value.location.offset) - this.start)
        this.pages.push(value.location)
        this.spans ||= value.pages > 1
      }
    }
  }

  /** Lets go of the bytes before the page holding group row `row` (the next block's first). */
  release(row: number): void {
    let keep = this.pages.length ? Number(this.pages[0]?.offset) - this.start : 0
    for (const page of this.pages) if (Number(page.first_row_index) <= row) keep = Number(page.offset) - this.start
    this.held = this.held.filter((piece) => piece.at + piece.bytes.length > keep)
  }

  /**
   * The source as hyparquet reads it: the chunk's bytes from those held (fetched on to `end` first:
   * the walk reads a flat column's headers only, and a page may run past the last window), anything
   * else from the source.
   */
  get view(): AsyncBuffer {
    return {
      byteLength: this.source.byteLength,
      slice: async (start, end = this.source.byteLength) => {
        const from = start - this.start
        const to = end - this.start
        const dictionary = this.dictionary
        if (dictionary && from === 0 && to <= dictionary.length) return dictionary.slice(0, to).buffer as ArrayBuffer
        const first = this.held[0]
        if (first && from >= first.at && to <= this.length) {
          if (to > this.fetched) await this.bytesFrom(this.fetched, to - this.fetched)
          return this.copy(from, to).buffer as ArrayBuffer
        }
        return this.source.slice(start, end)
      },
    }
  }

  /** Group rows at which the pages found so far begin. */
  get starts(): number[] {
    return this.pages.map((p) => Number(p.first_row_index))
  }

  /** The chunk's bytes [from, to), copied out of those held. */
  private copy(from: number, to: number): Uint8Array {
    const out = new Uint8Array(to - from)
    for (const { at, bytes } of this.held) {
      const a = Math.max(from, at)
      const b = Math.min(to, at + bytes.length)
      if (a < b) out.set(bytes.subarray(a - at, b - at), a - from)
    }
    return out
  }

  /** The walk's reads: bytes from `at`, at least `least` of them (to the chunk's end), fetched in order. */
  private async bytesFrom(at: number, least: number): Promise<Uint8Array> {
    const want = Math.min(this.length, at + least)
    while (this.fetched < want) {
      throwIfAborted(this.signal)
      const bytes = await (this.ahead ?? this.fetch(this.fetched, want - this.fetched))
      this.ahead = undefined
      this.held.push({ at: this.fetched, bytes })
      this.fetched += bytes.length
      // the next window downloads while this one is walked and decoded
      if (this.fetched < this.length) {
        this.ahead = this.fetch(this.fetched, 0)
        this.ahead.catch(() => {}) // a read given up on (cancelled, or the walk failed) is no unhandled rejection
      }
    }
    const piece = this.held.find((p) => at >= p.at && want <= p.at + p.bytes.length)
    return piece ? piece.bytes.subarray(at - piece.at) : this.copy(at, this.fetched)
  }

  private async fetch(from: number, least: number): Promise<Uint8Array> {
    const to = Math.min(this.length, from + Math.max(least, this.windowBytes))
    const bytes = new Uint8Array(await this.source.slice(this.start + from, this.start + to))
    if (bytes.length !== to - from)
      throw new ParquetSeekError(`asked for ${to - from} bytes of the column chunk, got ${bytes.length}`, {
        file: this.info.file,
        column: this.info.column,
        offset: this.start + from,
      })
    return bytes
  }
}
