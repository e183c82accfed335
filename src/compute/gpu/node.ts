import { existsSync, readdirSync } from 'node:fs'
import { ParquetSeekError } from '../../errors.js'

/**
 * WebGPU's entry point in Node (what navigator.gpu is in a browser), from the `webgpu` package
 * (Dawn), with its globals (GPUBufferUsage, …) installed. Pass it as `gpu` to openIndex.
 */
export async function nodeGpu(): Promise<GPU> {
  const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json'
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && !hasGpuDevice() && existsSync(swiftshader)) {
    process.env.VK_ICD_FILENAMES = swiftshader
  }
  let webgpu: typeof import('webgpu')
  try {
    webgpu = await import('webgpu')
  } catch (e) {
    throw new ParquetSeekError(`the webgpu package does not load here (${(e as Error).message})`)
  }
  Object.assign(globalThis, webgpu.globals)
  // Dawn's instance must stay referenced: once collected, pending work never completes
  // (mapAsync hangs) or the process aborts.
  keepAlive ??= webgpu.create([])
  return keepAlive
}

let keepAlive: GPU | undefined

/** A real GPU's device node; without one Debian's Mesa drivers would be picked, and fail. */
function hasGpuDevice(): boolean {
  return existsSync('/dev/nvidia0') || (existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD')))
}
