import { ParquetSeekError } from '../errors.js'

/** The widget scores on the CPU: WebGPU search (and its shaders) stays out of its bundle. */
export async function openGpuScan(): Promise<never> {
  throw new ParquetSeekError('the <parquet-seek> widget searches on the CPU; use the library for backend "gpu"')
}
