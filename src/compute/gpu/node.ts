import { existsSync, readdirSync } from 'node:fs'
import { ParquetSeekError } from '../../errors.js'
import { GpuKernels } from './kernels.js'
import { shaders } from './shaders.generated.js'

/**
 * A WebGPU device in Node through the `webgpu` package (Dawn, on Vulkan: needs libvulkan1).
 * Without a GPU, Chromium's SwiftShader Vulkan driver gives a slow but correct adapter (Mesa's
 * lavapipe in Debian is too old for Dawn). Resolves with the reason when there is no adapter.
 */
export async function nodeGpuKernels(): Promise<{ kernels?: GpuKernels; reason?: string; adapter?: string }> {
  let gpu: GPU
  try {
    gpu = await nodeGpu()
  } catch (e) {
    return { reason: (e as Error).message }
  }
  const adapter = await gpu.requestAdapter()
  if (!adapter) return { reason: 'no WebGPU adapter (needs libvulkan1 and a Vulkan driver: a GPU, or Chromium for SwiftShader)' }
  // The default 256 MiB buffer limit is far below what a GPU holds: ask for the adapter's own.
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxBufferSize: adapter.limits.maxBufferSize,
      maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    },
  })
  const info = adapter.info
  return {
    kernels: new GpuKernels(device, loadShaders()),
    adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(' '),
  }
}

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

/** The WGSL sources (generated from shaders/*.wgsl by scripts/build-wasm.mjs). */
export function loadShaders(): { exactL2: string; pqScan: string } {
  return { exactL2: shaders.exactL2, pqScan: shaders.pqScan }
}
