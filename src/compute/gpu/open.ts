import type { IvfPqModel } from '../../index/model.js'
import type { Kernels } from '../backend.js'
import { GpuBuild } from './build.js'
import { sharedGpuContext } from './context.js'
import { GpuExact } from './exact.js'
import { GpuListScan } from './listScan.js'

/**
 * The GPU scan stage for one index, on the shared device of `gpu` (loaded on demand by the
 * engine); `kernels`: the CPU kernels beside it (its queries' distances to centroids). `signal`
 * (here and below) cancels the wait for the device (its first use times the adapter: ~2 s).
 */
export async function openGpuScan(
  model: IvfPqModel,
  gpu?: GPU,
  kernels?: Pick<Kernels, 'distances' | 'rowScanner'>,
  signal?: AbortSignal,
): Promise<GpuListScan> {
  return new GpuListScan(await sharedGpuContext(gpu, signal), model, { kernels })
}

/** The build's GPU kernels on the shared device of `gpu`. */
export async function openGpuBuild(gpu?: GPU, signal?: AbortSignal): Promise<GpuBuild> {
  return new GpuBuild(await sharedGpuContext(gpu, signal))
}

/** Exact distances on the shared device of `gpu` (flat search). */
export async function openGpuExact(gpu?: GPU, signal?: AbortSignal): Promise<GpuExact> {
  return new GpuExact(await sharedGpuContext(gpu, signal))
}
