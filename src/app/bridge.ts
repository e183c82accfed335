import * as Comlink from 'comlink'
import type { BuildWorkerApi, EmbedRequest, JobProgress } from '../../workers/build.worker.js'
import type { EngineApi } from '../../workers/engineApi.js'
import { untilAborted } from '../errors.js'
import type { BuildOptions, BuildSummary } from '../index/build.js'
import type { EmbedSummary } from '../index/embed.js'

/**
 * The one module that owns the app's workers: creates them, relays cancellation (AbortSignal →
 * worker), polls progress as plain data, and terminates the worker when a job ends. (bench.html's
 * worker is benchBridge.ts's, so that page's build does not carry the app's workers.)
 */

/** One build, in a worker of its own. */
export function buildInWorker(file: File, options: WorkerBuildOptions, o: WorkerBuildJob = {}): Promise<WorkerBuildResult> {
  return withBuildWorker((build) => build(file, options, o))
}

export type WorkerBuildOptions = Omit<BuildOptions, 'signal' | 'onProgress' | 'file'>
interface WorkerBuildJob {
  signal?: AbortSignal
  onProgress?: (p: JobProgress) => void
  target?: FileSystemFileHandle
  embed?: EmbedRequest
}
type WorkerBuildResult = { summary: BuildSummary; embedded?: EmbedSummary; blob?: Blob }
/** One build in the worker withBuildWorker keeps. */
export type WorkerBuild = (file: File, options: WorkerBuildOptions, o?: WorkerBuildJob) => Promise<WorkerBuildResult>

/**
 * One build worker for several builds in turn (a dataset's files: started once, not once a file),
 * terminated when `work` ends, however it ends.
 */
export async function withBuildWorker<T>(work: (build: WorkerBuild) => Promise<T>): Promise<T> {
  const worker = new Worker(new URL('../../workers/build.worker.ts', import.meta.url), { type: 'module', name: 'parquetseek-build' })
  const api = Comlink.wrap<BuildWorkerApi>(worker)
  try {
    return await work(async (file, options, { signal, onProgress, target, embed } = {}) => {
      const id = await api.start()
      const onAbort = () => void api.cancel(id)
      signal?.addEventListener('abort', onAbort)
      const timer = setInterval(async () => {
        const p = await api.progress(id)
        if (p) onProgress?.(p)
      }, 100)
      try {
        // (cancelled while the job was being made: the listener came too late to hear it)
        signal?.throwIfAborted()
        return await api.run(id, file, options, target, embed)
      } finally {
        clearInterval(timer)
        signal?.removeEventListener('abort', onAbort)
      }
    })
  } finally {
    worker.terminate()
  }
}

/**
 * The engine worker: opens files and URLs, searches, checks recall. One per page, started on
 * first use. `run` gives each call a job id so an AbortSignal can cancel it in the worker.
 */
let engine: Comlink.Remote<EngineApi> | undefined
export function engineWorker(): Comlink.Remote<EngineApi> {
  engine ??= Comlink.wrap<EngineApi>(
    new Worker(new URL('../../workers/engine.worker.ts', import.meta.url), { type: 'module', name: 'parquetseek-engine' }),
  )
  return engine
}

/**
 * `call` on the engine worker as job `job`; an abort cancels the job there and rejects here at
 * once (an AbortError), even while the worker is still waiting on a read that cannot stop.
 */
export async function run<T>(
  signal: AbortSignal | undefined,
  call: (api: Comlink.Remote<EngineApi>, job: number) => Promise<T>,
): Promise<T> {
  const api = engineWorker()
  const job = await api.job()
  const onAbort = () => void api.cancel(job)
  signal?.addEventListener('abort', onAbort)
  try {
    return await untilAborted(call(api, job), signal)
  } finally {
    signal?.removeEventListener('abort', onAbort)
    void api.done(job)
  }
}
