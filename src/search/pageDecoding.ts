import * as Comlink from 'comlink'
import type { CompressionCodec } from 'hyparquet'
import { checkThreads, type SpawnedWorker, splitRange } from '../compute/pool.js'
import { checkpoint, ParquetSeekError } from '../errors.js'
import type { EmbeddingColumn } from '../parquet/embedding.js'
import { decodeVectorPages, type PageContext } from '../parquet/vectorPage.js'
import { isShared, type PageWorkerApi } from './pageWorker.js'

/** Starts one page worker (Node: nodePages.ts spawnNodePageWorker; a browser: a module Worker exposing pageWorkerApi). */
export type SpawnWorker = () => SpawnedWorker

/** Page workers started, beside the calling thread. */
export interface PageWorkers {
  workers: Comlink.Remote<PageWorkerApi>[]
  /** The workers and the calling thread. */
  threads: number
}

/**
 * Pages a thread gets at least: a part is packed into one buffer and sent, and its vectors sent
 * back (a message and two copies cost about what a page's decoding does, ~2–6 µs); fewer pages
 * than two parts' worth are decoded on the calling thread. A search of a few queries (100
 * candidates each) never starts a worker.
 */
export const PAGES_A_THREAD = 2048
/** Threads up to which the calling thread decodes a share itself (beyond, it only hands out and gathers). */
const CALLER_DECODES_UP_TO = 3

/**
 * Decodes `pages` (one vector each, as decodeVectorPage) into `out`, page i at i · dim — split
 * among the pool's workers and the calling thread when there are enough of them (a 10,000-query
 * batch decodes ~174,000 pages: ~0.5–1 s on one thread of the H200's host). The same floats
 * however it is split. A page that does not decode in a worker is decoded again here, so the
 * error names it (`contextOf`) as it would on one thread.
 */
export async function decodePages(
  pool: PageWorkers | undefined,
  pages: readonly Uint8Array[],
  column: Pick<EmbeddingColumn, 'kind' | 'element'>,
  codec: CompressionCodec,
  dim: number,
  out: Float32Array,
  contextOf: (i: number) => PageContext,
  signal?: AbortSignal,
): Promise<void> {
  const threads = Math.min(pool?.threads ?? 1, Math.floor(pages.length / PAGES_A_THREAD))
  if (!pool || threads < 2) return decodeVectorPages(pages, column, codec, dim, out, contextOf)
  // with a few workers this thread decodes a share too; with more, packing their pages and
  // copying their vectors back keeps it busy (an H200 host, 8 threads: 922 → 485 ms with a share)
  const caller = threads <= CALLER_DECODES_UP_TO
  const parts = splitRange(pages.length, caller ? threads : threads - 1)
  const [mine, theirs] = caller ? [parts[0] as [number, number], parts.slice(1)] : [[0, 0] as [number, number], parts]
  const { kind, element } = column
  // each worker's buffers from its last part, reused: fresh memory costs its first writes
  let spare = buffers.get(pool)
  if (!spare) {
    spare = pool.workers.map(() => ({ bytes: new Uint8Array(0), out: new Float32Array(0) }))
    buffers.set(pool, spare)
  }
  const held = spare
  const shared = isShared(out)
  /** Parts a worker could not decode: this thread decodes them again to name the page. */
  const failed: Array<{ part: [number, number]; error?: string }> = []
  // the workers' parts sent first, each packed end to end; each part's vectors copied in as it comes
  const sent = theirs.map(async ([from, to], w) => {
    const ends = new Uint32Array(to - from)
    let bytes = 0
    for (let i = from; i < to; i++) {
      bytes += (pages[i] as Uint8Array).length
      ends[i - from] = bytes
    }
    const own = held[w] as { bytes: Uint8Array; out: Float32Array }
    const packed = own.bytes.length >= bytes ? own.bytes : new Uint8Array(Math.ceil(bytes * 1.25))
    for (let i = from; i < to; i++) packed.set(pages[i] as Uint8Array, i > from ? (ends[i - from - 1] as number) : 0)
    const worker = pool.workers[w] as (typeof pool.workers)[number]
    // `out` in shared memory: the worker writes its part there; else into a buffer of its own
    // (the buffers are the worker's until it answers)
    const vectors = shared ? out.subarray(from * dim, to * dim) : own.out
    own.bytes = new Uint8Array(0)
    if (!shared) own.out = new Float32Array(0)
    try {
      const got = await worker.decodePages(
        Comlink.transfer(packed, [packed.buffer]),
        ends,
        { kind, element },
        codec,
        dim,
        shared ? vectors : Comlink.transfer(vectors, [vectors.buffer]),
      )
      own.bytes = got.bytes
      if (!shared) own.out = got.out
      if (got.error !== undefined) failed.push({ part: [from, to], error: got.error })
      else if (!shared) out.set(got.out.subarray(0, (to - from) * dim), from * dim)
    } catch {
      // the worker stopped: its part is this thread's
      failed.push({ part: [from, to] })
    }
  })
  // settled before anything is thrown: no worker is left writing for a search that failed
  let failure: unknown
  try {
    decodeVectorPages(pages.slice(mine[0], mine[1]), column, codec, dim, out, contextOf)
  } catch (e) {
    failure = e
  }
  await Promise.all(sent)
  if (failure) throw failure
  await checkpoint(signal)
  for (const { part, error } of failed.sort((a, b) => a.part[0] - b.part[0])) {
    const [from, to] = part
    // the page's own error, with its name, from decoding the part here
    decodeVectorPages(pages.slice(from, to), column, codec, dim, out.subarray(from * dim), (i) => contextOf(from + i))
    if (error !== undefined) throw new ParquetSeekError(`a worker could not decode vector pages that decode here: ${error}`)
  }
}

/** Each pool's workers' buffers for decodePages (packed pages, vectors), between calls. */
const buffers = new WeakMap<PageWorkers, Array<{ bytes: Uint8Array; out: Float32Array }>>()

/** Workers for decoding pages, started when a search first needs them and stopped by `close`. */
export class PageDecoders {
  private started: Promise<PageWorkers> | undefined
  private spawned: SpawnedWorker[] = []

  constructor(
    readonly threads: number,
    private readonly spawn: SpawnWorker | undefined,
  ) {
    checkThreads(threads, spawn)
  }

  /** The workers for `pages` pages (none for one thread, or too few pages to share). */
  poolFor(pages: number): Promise<PageWorkers> | undefined {
    const spawn = this.spawn
    if (this.threads < 2 || !spawn || pages < 2 * PAGES_A_THREAD) return undefined
    this.started ??= (async () => {
      this.spawned = Array.from({ length: this.threads - 1 }, () => spawn())
      return { workers: this.spawned.map((s) => Comlink.wrap<PageWorkerApi>(s.endpoint)), threads: this.threads }
    })()
    return this.started
  }

  close(): void {
    void this.started?.then((pool) => {
      for (const w of pool.workers) w[Comlink.releaseProxy]()
    })
    for (const s of this.spawned) s.terminate()
    this.spawned = []
    this.started = undefined
  }
}
