import * as Comlink from 'comlink'
import { ParquetSeekError } from '../errors.js'
import type { KernelWorkerApi } from '../index/kernelWorker.js'
import type { BackendName } from './backend.js'

/** A started worker: its comlink endpoint and how to stop it. */
export interface SpawnedWorker {
  endpoint: Comlink.Endpoint
  terminate(): void
}

/** Starts one kernel worker (Node: worker_threads, see nodePool.ts; browser: a module Worker). */
export type SpawnKernelWorker = () => SpawnedWorker

/**
 * A bounded set of kernel workers used by the build beside the calling thread (which always
 * takes a share itself): with 2 cores, one worker. Work is split so the result never depends on
 * the split (rows and subspaces are independent), so any thread count writes the same bytes.
 */
export class KernelPool {
  private constructor(
    readonly workers: Comlink.Remote<KernelWorkerApi>[],
    private readonly spawned: SpawnedWorker[],
  ) {}

  /** `size` workers (0 gives an empty pool: everything runs on the caller). */
  static async start(spawn: SpawnKernelWorker, size: number, backend: BackendName): Promise<KernelPool> {
    const spawned: SpawnedWorker[] = []
    try {
      for (let i = 0; i < size; i++) spawned.push(spawn())
      const workers = spawned.map((s) => Comlink.wrap<KernelWorkerApi>(s.endpoint))
      await Promise.all(workers.map((w) => w.init(backend)))
      return new KernelPool(workers, spawned)
    } catch (e) {
      for (const s of spawned) s.terminate()
      throw e
    }
  }

  /** Each worker lets go of the rows, model and tune queries it was handed (the pool is kept for another build). */
  async clear(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.clear()))
  }

  /** Threads taking part: the workers and the caller. */
  get threads(): number {
    return this.workers.length + 1
  }

  close(): void {
    for (const w of this.workers) w[Comlink.releaseProxy]()
    for (const s of this.spawned) s.terminate()
  }
}

/**
 * Runs `work` with threads − 1 workers beside the caller (none for 1 thread), stopped after.
 * `spawn` says how to start one here (Node worker_threads, a browser module Worker). With
 * `kept`, the workers an earlier call left there, and left there after (KeptWorkers).
 */
export async function withPool<T>(
  threads: number,
  spawn: SpawnKernelWorker | undefined,
  backend: BackendName,
  work: (pool: KernelPool | undefined) => Promise<T>,
  kept?: KeptWorkers,
): Promise<T> {
  checkThreads(threads, spawn)
  if (threads < 2 || !spawn) return work(undefined)
  if (kept) return kept.use(threads, spawn, backend, work)
  const pool = await KernelPool.start(spawn, threads - 1, backend)
  try {
    return await work(pool)
  } finally {
    pool.close()
  }
}

/**
 * Kernel workers kept from one build to the next (a dataset's files, built in turn): starting
 * them took longer than the second thread saved on a small file (8 files of 1,000 rows × 64,
 * `index --out-dir`: 6.2 s on 2 threads, 3.8 s on one; kept, 3.6 s). A build takes the workers
 * the last one left when it asks for as many threads on the same backend, started the same way,
 * and starts new ones otherwise; they let go of its rows and model when it ends. After a build
 * that failed or was cancelled they are ended (one may still be busy with it). A second build
 * while one runs gets workers of its own. `close` ends them.
 */
export class KeptWorkers {
  private kept: { pool: KernelPool; spawn: SpawnKernelWorker; threads: number; backend: BackendName } | undefined
  private busy = false

  async use<T>(
    threads: number,
    spawn: SpawnKernelWorker,
    backend: BackendName,
    work: (pool: KernelPool | undefined) => Promise<T>,
  ): Promise<T> {
    if (this.busy) return withPool(threads, spawn, backend, work)
    this.busy = true
    try {
      const k = this.kept
      if (!k || k.spawn !== spawn || k.threads !== threads || k.backend !== backend) {
        this.close()
        this.kept = { pool: await KernelPool.start(spawn, threads - 1, backend), spawn, threads, backend }
      }
      const { pool } = this.kept as { pool: KernelPool }
      let result: T
      try {
        result = await work(pool)
      } catch (e) {
        this.close()
        throw e
      }
      // (a worker that cannot let go is ended: the build it served is done all the same)
      await pool.clear().catch(() => this.close())
      return result
    } finally {
      this.busy = false
    }
  }

  close(): void {
    this.kept?.pool.close()
    this.kept = undefined
  }
}

/** Refuses a thread count outside 1…64, or above 1 without a way to start workers. */
export function checkThreads(threads: number, spawn: unknown): void {
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new ParquetSeekError(`threads must be 1…64, got ${threads}`)
  if (threads > 1 && !spawn) throw new ParquetSeekError('threads > 1 needs spawnWorker (how to start a worker here)')
}

/** Contiguous [start, end) row ranges, one per part, sizes differing by at most one. */
export function splitRange(n: number, parts: number): Array<[number, number]> {
  return Array.from({ length: parts }, (_, p) => [Math.floor((p * n) / parts), Math.floor(((p + 1) * n) / parts)])
}

/**
 * Runs `count` independent jobs over the caller (`local`) and each worker (`remote`), each
 * runner taking the next job when it finishes one (so a slower thread takes fewer).
 */
export async function runQueue<W>(
  count: number,
  workers: W[],
  local: (job: number) => Promise<void>,
  remote: (worker: W, job: number) => Promise<void>,
): Promise<void> {
  let next = 0
  const runner = async (run: (job: number) => Promise<void>) => {
    while (next < count) await run(next++)
  }
  await Promise.all([runner(local), ...workers.map((w) => runner((job) => remote(w, job)))])
}

/** Whether this thread may share memory with its workers (Node; a cross-origin-isolated page). */
export function canShareMemory(): boolean {
  return typeof SharedArrayBuffer === 'function' && (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated !== false
}

/**
 * `n` floats in shared memory where this thread may share it, else in its own: workers handed
 * them then read or write these, not a copy.
 */
export function sharedFloats(n: number): Float32Array {
  return new Float32Array(canShareMemory() ? new SharedArrayBuffer(4 * n) : new ArrayBuffer(4 * n))
}

/** `a` in shared memory: a copy, unless it lies there already (only where canShareMemory()). */
export function inSharedMemory<T extends Float32Array | Float64Array | Int32Array | Uint32Array | Uint8Array>(a: T): T {
  if (a.buffer instanceof SharedArrayBuffer) return a
  const copy = new (a.constructor as new (buffer: SharedArrayBuffer) => T)(new SharedArrayBuffer(a.byteLength))
  copy.set(a)
  return copy
}
