import { GpuError } from '../../errors.js'
import { mulberry32 } from '../random.js'
import type { GpuContext } from './context.js'
import { recordExact, recordRefine } from './exact.js'

/**
 * The adapter's own LANES (invocations sharing a vector in exactL2 and refinePairs): a GPU's
 * memory system decides which width reads fastest (32-wide warps, 64-wide wavefronts, a laptop's
 * 8-wide subgroups), so the choice is measured once per adapter rather than fixed. Timed on the
 * two kernels that use it (probing / flat search and refinement), each value's cost is its time
 * over the best time of that kernel, summed; the default stays unless another value costs
 * SWITCH_MARGIN of it or less, so timing noise does not change answers' rounding from one run to
 * the next.
 */

/** The LANES values timed: powers of two dividing the workgroup (256). */
export const LANES_CHOICES = [4, 8, 16, 32] as const
/** A value replaces the default only when its cost is at most this share of the default's. */
export const SWITCH_MARGIN = 0.9
/** A measurement repeats its pass until the batch takes this long (ms): longer than a submit's cost. */
const MIN_BATCH_MS = 4
/** At most this many passes in one batch (encoding them costs host time, not counted). */
const MAX_REPS = 512

export interface LanesTiming {
  LANES: number
  /** exactL2, 8 queries × the workload's rows (ms a pass). */
  exactMs: number
  /** refinePairs, one pair a row in scattered order (ms a pass). */
  refineMs: number
}

/** How a context's tunables were chosen (GpuContext.tuning). */
export type Tuning =
  | { source: 'defaults'; why: string }
  | { source: 'self-test'; ms: number; timings: LanesTiming[] }
  | { source: 'cached'; timings: LanesTiming[] }

/**
 * The LANES to use given each value's timings (see the module comment; ties go to the one timed
 * first); `fallback` when it was not timed.
 */
export function pickLanes(timings: LanesTiming[], fallback: number): number {
  const base = timings.find((t) => t.LANES === fallback)
  const valid = timings.filter((t) => t.exactMs > 0 && t.refineMs > 0)
  if (!base || !valid.includes(base)) return fallback
  const bestExact = Math.min(...valid.map((t) => t.exactMs))
  const bestRefine = Math.min(...valid.map((t) => t.refineMs))
  const cost = (t: LanesTiming) => t.exactMs / bestExact + t.refineMs / bestRefine
  const limit = cost(base) * SWITCH_MARGIN
  let pick = base
  for (const t of valid) if (cost(t) <= limit && (pick === base || cost(t) < cost(pick))) pick = t
  return pick.LANES
}

/**
 * Times exactL2 and refinePairs at each of `choices` (the current LANES first) on `rows` random
 * vectors of `dim` floats, stopping once `budgetMs` has passed (values not reached yet are not
 * timed). Sets ctx.tunables.LANES while it runs and restores it; throws GpuError on a GPU error.
 * Nothing else may use `ctx` meanwhile.
 */
export async function timeLanes(
  ctx: GpuContext,
  o: { rows?: number; dim?: number; choices?: readonly number[]; budgetMs?: number } = {},
): Promise<LanesTiming[]> {
  const rows = o.rows ?? 8192
  const dim = o.dim ?? 768 // a multiple of 4: no padding
  const nq = 8
  const start = ctx.tunables.LANES
  const choices = [start, ...(o.choices ?? LANES_CHOICES).filter((l) => l !== start)]
  const budget = o.budgetMs ?? 1500
  const rand = mulberry32(1)
  const vectors = Float32Array.from({ length: rows * dim }, () => rand() * 2 - 1)
  const queries = vectors.slice(0, nq * dim)
  // refinement reads rows in no particular order: a pair a row, rows strided across the file
  const pairs = new Uint32Array(2 * rows)
  const stride = 7919 % rows || 1
  for (let p = 0; p < rows; p++) {
    pairs[2 * p] = p % nq
    pairs[2 * p + 1] = (p * stride) % rows
  }
  const qBuf = ctx.upload(queries, 'SelfTest.queries')
  const xBuf = ctx.upload(vectors, 'SelfTest.rows')
  const pBuf = ctx.upload(pairs, 'SelfTest.pairs')
  const eBuf = ctx.acquire(nq * rows * 4, 'SelfTest.exactOut')
  const rBuf = ctx.acquire(rows * 8, 'SelfTest.refineOut')
  const t0 = performance.now()
  const timings: LanesTiming[] = []
  try {
    for (const LANES of choices) {
      if (timings.length && performance.now() - t0 > budget) break
      ctx.tunables.LANES = LANES
      const exactMs = await timePass(ctx, (enc) => recordExact(ctx, enc, { n: rows, q: nq, dim, ip: false }, [qBuf, xBuf, eBuf]))
      const refineMs = await timePass(ctx, (enc) => recordRefine(ctx, enc, { pairs: rows, dim, ip: false }, [qBuf, xBuf, pBuf, rBuf]))
      timings.push({ LANES, exactMs, refineMs })
    }
  } finally {
    ctx.tunables.LANES = start
    ctx.release(qBuf, xBuf, pBuf, eBuf, rBuf)
  }
  return timings
}

/**
 * Milliseconds a pass takes: a warm-up (which builds the pipeline), then batches of passes in
 * one submit, doubling until a batch takes MIN_BATCH_MS; the best of three such batches.
 */
async function timePass(ctx: GpuContext, record: (encoder: GPUCommandEncoder) => void): Promise<number> {
  const device = ctx.device
  const batch = async (reps: number) => {
    const encoder = device.createCommandEncoder({ label: 'SelfTest' })
    for (let r = 0; r < reps; r++) record(encoder)
    const t0 = performance.now()
    device.queue.submit([encoder.finish()])
    await device.queue.onSubmittedWorkDone()
    return performance.now() - t0
  }
  device.pushErrorScope('validation')
  await batch(1)
  const error = await device.popErrorScope()
  if (error) throw new GpuError(`GPU self-test failed: ${error.message.split('\n')[0]}`)
  if (ctx.lost) throw new GpuError(`GPU self-test failed: device lost (${ctx.lost})`)
  let reps = 1
  let ms = await batch(reps)
  while (ms < MIN_BATCH_MS && reps < MAX_REPS) {
    reps = Math.min(MAX_REPS, reps * 2)
    ms = await batch(reps)
  }
  ms = Math.min(ms, await batch(reps), await batch(reps))
  return ms / reps
}

/** Where chosen tunables are kept between visits: one JSON string per adapter. */
export interface TuningStore {
  get(key: string): Promise<string | undefined>
  set(key: string, value: string): Promise<void>
}

/** For this process (or worker) only: what Node gets, and a browser without IndexedDB. */
export function memoryStore(): TuningStore {
  const kept = new Map<string, string>()
  return {
    get: async (key) => kept.get(key),
    set: async (key, value) => {
      kept.set(key, value)
    },
  }
}

/** The parts of IndexedDB used here (the compute core compiles without the DOM's types). */
interface IdbRequest<T> {
  readonly result: T
  onsuccess: (() => void) | null
  onerror: (() => void) | null
}
interface IdbDatabase {
  createObjectStore(name: string): unknown
  transaction(store: string, mode: 'readonly' | 'readwrite'): { objectStore(name: string): IdbObjectStore }
}
interface IdbObjectStore {
  get(key: string): IdbRequest<unknown>
  put(value: string, key: string): IdbRequest<unknown>
}
export interface IdbFactory {
  open(name: string, version: number): IdbRequest<IdbDatabase> & { onupgradeneeded: (() => void) | null; onblocked: (() => void) | null }
}

/**
 * In IndexedDB (pages and workers alike; the app's engine runs in a worker, where localStorage
 * does not exist): database `parquetseek-gpu`, store `tunables`. A failure (storage disabled,
 * private browsing) reads as nothing stored; the choice then lasts this visit.
 */
export function indexedDbStore(idb: IdbFactory): TuningStore {
  let opened: Promise<IdbDatabase | undefined> | undefined
  const open = () =>
    (opened ??= new Promise((resolve) => {
      try {
        const request = idb.open('parquetseek-gpu', 1)
        request.onupgradeneeded = () => request.result.createObjectStore('tunables')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => resolve(undefined)
        request.onblocked = () => resolve(undefined)
      } catch {
        resolve(undefined)
      }
    }))
  const run = async <T>(mode: 'readonly' | 'readwrite', op: (store: IdbObjectStore) => IdbRequest<unknown>): Promise<T | undefined> => {
    const db = await open()
    if (!db) return undefined
    return new Promise((resolve) => {
      try {
        const request = op(db.transaction('tunables', mode).objectStore('tunables'))
        request.onsuccess = () => resolve(request.result as T)
        request.onerror = () => resolve(undefined)
      } catch {
        resolve(undefined)
      }
    })
  }
  return {
    get: async (key) => {
      const value = await run<unknown>('readonly', (s) => s.get(key))
      return typeof value === 'string' ? value : undefined
    },
    set: async (key, value) => {
      await run('readwrite', (s) => s.put(value, key))
    },
  }
}

/** The store sharedGpuContext uses here: IndexedDB where it exists, else this process's memory. */
export function defaultStore(): TuningStore {
  const idb = (globalThis as { indexedDB?: IdbFactory }).indexedDB
  return idb ? indexedDbStore(idb) : memoryStore()
}

/** Bump when the kernels change enough that kept choices no longer say anything. */
const STORE_VERSION = 1

/**
 * Sets ctx's LANES for its adapter: kept from an earlier visit in `store`, else timed
 * (timeLanes) and kept. A software adapter (SwiftShader: a CPU, whose timings say nothing of a
 * GPU and which compiles pipelines slowly) and a self-test that fails keep the defaults;
 * ctx.tuning says which happened.
 */
export async function tuneContext(
  ctx: GpuContext,
  store: TuningStore,
  /** timeLanes's options; `software`: time a software adapter too (tests). */
  o: Parameters<typeof timeLanes>[1] & { software?: boolean } = {},
): Promise<void> {
  if (ctx.fallbackAdapter && !o.software) {
    ctx.tuning = { source: 'defaults', why: 'a software adapter (its timings say nothing of a GPU)' }
    return
  }
  const key = `v${STORE_VERSION} ${ctx.adapter}`
  const kept = parseKept(await store.get(key))
  if (kept) {
    ctx.tunables.LANES = pickLanes(kept, ctx.tunables.LANES)
    ctx.tuning = { source: 'cached', timings: kept }
    return
  }
  const t0 = performance.now()
  let timings: LanesTiming[]
  try {
    timings = await timeLanes(ctx, o)
  } catch (e) {
    ctx.tuning = { source: 'defaults', why: (e as Error).message }
    return
  }
  ctx.tunables.LANES = pickLanes(timings, ctx.tunables.LANES)
  ctx.tuning = { source: 'self-test', ms: performance.now() - t0, timings }
  await store.set(key, JSON.stringify(timings))
}

/** Timings kept by tuneContext, or undefined when `text` is not such a list (absent, from another version, damaged). */
function parseKept(text: string | undefined): LanesTiming[] | undefined {
  if (!text) return undefined
  try {
    const value: unknown = JSON.parse(text)
    if (
      Array.isArray(value) &&
      value.length &&
      value.every(
        (t) =>
          LANES_CHOICES.includes(t?.LANES) && Number.isFinite(t.exactMs) && t.exactMs > 0 && Number.isFinite(t.refineMs) && t.refineMs > 0,
      )
    )
      return value as LanesTiming[]
  } catch {
    // not JSON: timed again
  }
  return undefined
}
