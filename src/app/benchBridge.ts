import * as Comlink from 'comlink'
import type { BenchProgress, GpuBenchWorkerApi } from '../../workers/gpuBench.worker.js'
import type { PageBench } from '../bench/gpuBench.js'
import { throwIfAborted, untilAborted } from '../errors.js'

/**
 * bench.html's GPU benchmark in its own worker (workers/gpuBench.worker.ts). Cancelling
 * terminates the worker — its CPU reference loops do not stop to look at a signal — and rejects
 * with AbortError; so does the run's end, freeing its device and arrays.
 */
export async function gpuBenchInWorker(
  sizes: { scale: number; reps: number },
  { signal, onProgress }: { signal?: AbortSignal; onProgress?: (p: BenchProgress) => void } = {},
): Promise<PageBench> {
  throwIfAborted(signal)
  const worker = new Worker(new URL('../../workers/gpuBench.worker.ts', import.meta.url), { type: 'module', name: 'parquetseek-gpu-bench' })
  const api = Comlink.wrap<GpuBenchWorkerApi>(worker)
  // a worker that fails to load or throws outside a call would leave the run waiting forever
  const failed = new Promise<never>((_, reject) =>
    worker.addEventListener('error', (e) => reject(new Error(`the benchmark's worker failed: ${e.message || 'it did not start'}`))),
  )
  let ended = false
  const timer = setInterval(async () => {
    const p = await api.progress()
    // a snapshot answered after the run ended would bring back a finished run's progress bar
    if (p && !ended && !signal?.aborted) onProgress?.(p)
  }, 100)
  try {
    return await untilAborted(Promise.race([api.run(sizes), failed]), signal)
  } finally {
    ended = true
    clearInterval(timer)
    worker.terminate()
  }
}
