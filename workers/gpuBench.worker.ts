/// <reference lib="webworker" />
import * as Comlink from 'comlink'
import { benchGpuPage, type PageBench } from '../src/bench/gpuBench.js'
import { sharedGpuContext } from '../src/compute/gpu/context.js'

/**
 * bench.html's GPU benchmark off the page's thread: its CPU reference loops and its arrays
 * (hundreds of MB at the larger scales) live here, so the page keeps drawing its progress and
 * answers Cancel at once — the bridge cancels by terminating this worker. Plain data crosses:
 * the sizes in, progress snapshots (polled), the figures out.
 */

/** How far a run is: `done` of `total` measurements, and which one is running. */
export interface BenchProgress {
  done: number
  total: number
  what: string
}

let progress: BenchProgress | undefined

const api = {
  progress(): BenchProgress | undefined {
    return progress
  },

  async run(sizes: { scale: number; reps: number }): Promise<PageBench> {
    if (!navigator.gpu) throw new Error('this browser has no WebGPU (navigator.gpu is missing)')
    progress = { done: 0, total: 1, what: 'opening the GPU (its first use times three settings for it)' }
    const ctx = await sharedGpuContext(navigator.gpu)
    return benchGpuPage(ctx, {
      ...sizes,
      onProgress: (done, total, what) => {
        progress = { done, total, what }
      },
    })
  },
}

export type GpuBenchWorkerApi = typeof api
Comlink.expose(api)
