import type { IvfPqModel } from '../../index/model.js'
import { sharedGpuContext } from './context.js'
import { GpuListScan } from './listScan.js'

/** The GPU scan stage for one index, on the shared device of `gpu` (loaded on demand by the engine). */
export async function openGpuScan(model: IvfPqModel, gpu?: GPU): Promise<GpuListScan> {
  return new GpuListScan(await sharedGpuContext(gpu), model)
}
