import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GpuKernels } from './kernels.js'

/**
 * A WebGPU device in Node through the `webgpu` package (Dawn, on Vulkan: needs libvulkan1).
 * Without a GPU, Chromium's SwiftShader Vulkan driver gives a slow but correct adapter (Mesa's
 * lavapipe in Debian is too old for Dawn). Resolves with the reason when there is no adapter.
 */
export async function nodeGpuKernels(): Promise<{ kernels?: GpuKernels; reason?: string; adapter?: string }> {
  const swiftshader = '/usr/lib/chromium/vk_swiftshader_icd.json'
  if (!process.env.VK_ICD_FILENAMES && !process.env.VK_DRIVER_FILES && !hasGpuDevice() && existsSync(swiftshader)) {
    process.env.VK_ICD_FILENAMES = swiftshader
  }
  let webgpu: typeof import('webgpu')
  try {
    webgpu = await import('webgpu')
  } catch (e) {
    return { reason: `the webgpu package does not load here (${(e as Error).message})` }
  }
  Object.assign(globalThis, webgpu.globals)
  // Dawn's instance must stay referenced: once collected, pending work never completes
  // (mapAsync hangs) or the process aborts.
  keepAlive ??= webgpu.create([])
  const adapter = await keepAlive.requestAdapter()
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

let keepAlive: GPU | undefined

/** A real GPU's device node; without one Debian's Mesa drivers would be picked, and fail. */
function hasGpuDevice(): boolean {
  return existsSync('/dev/nvidia0') || (existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD')))
}

/** shaders/*.wgsl of the package, found upwards from this module (works from src/ and build/). */
export function loadShaders(): { exactL2: string; pqScan: string } {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'shaders', 'pqScan.wgsl'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error('shaders/ not found above this module')
    dir = up
  }
  const read = (name: string) => readFileSync(join(dir, 'shaders', `${name}.wgsl`), 'utf8')
  return { exactL2: read('exactL2'), pqScan: read('pqScan') }
}
