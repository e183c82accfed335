import type { IvfPqModel } from '../../index/model.js'
import type { Kernels } from '../backend.js'
import { GpuBuild } from './build.js'
import { sharedGpuContext } from './context.js'
import { GpuExact } from './exact.js'
import { GpuListScan } from './listScan.js'

/**
 * The GPU scan stage for one index, on the shared device of `gpu` (loaded on demand by the
 * engine); `kernels`: the CPU kernels beside it (its queries' distances to centroids).
 */
export async function openGpuScan(model: IvfPqModel, gpu?: GPU, kernels?: Pick<Kernels, 'distances'>): Promise<GpuListScan> {
  return new GpuListScan(await sharedGpuContext(gpu), model, { kernels })
}

/** The build's GPU kernels on the shared device of `gpu`. */
export async function openGpuBuild(gpu?: GPU): Promise<GpuBuild> {
  return new GpuBuild(await sharedGpuContext(gpu))
}

/** Exact distances on the shared device of `gpu` (flat search). */
export async function openGpuExact(gpu?: GPU): Promise<GpuExact> {
  return new GpuExact(await sharedGpuContext(gpu))
}
