import { existsSync, readdirSync } from 'node:fs'
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'
import { ParquetSeekError } from '../../errors.js'
import { setTuningStore, type TuningStore } from './tuningStore.js'

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
  // the GPU's self-tested tunables, kept between runs of the CLI as a browser keeps them in IndexedDB
  if (!keepAlive)
    setTuningStore(fileStore(join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'parquetseek', 'gpu-tunables.json')))
  // Dawn's instance must stay referenced: once collected, pending work never completes
  // (mapAsync hangs) or the process aborts.
  keepAlive ??= webgpu.create(dawnFeatures())
  return keepAlive
}

/**
 * Dawn toggles to turn on, from PARQUETSEEK_DAWN_FEATURES (comma-separated, as Chromium's
 * --enable-dawn-features). The test suite sets disable_workgroup_init: SwiftShader then compiles
 * the shaders ~15 times faster (docs/BENCHMARKS.md), and none of them reads workgroup memory it
 * has not written (gpu.test.ts compares every shader's answers with Dawn's defaults).
 */
function dawnFeatures(): string[] {
  const features = process.env.PARQUETSEEK_DAWN_FEATURES?.trim()
  return features ? [`enable-dawn-features=${features}`] : []
}

let keepAlive: GPU | undefined

/** A real GPU's device node; without one Debian's Mesa drivers would be picked, and fail. */
function hasGpuDevice(): boolean {
  return existsSync('/dev/nvidia0') || (existsSync('/dev/dri') && readdirSync('/dev/dri').some((f) => f.startsWith('renderD')))
}

/**
 * A TuningStore in one JSON file ({ key: value }), written whole through a temporary file and a
 * rename (a run cut short leaves the old file). Unreadable, damaged or unwritable reads as
 * nothing kept: the timings then last this process.
 */
export function fileStore(path: string): TuningStore {
  const read = async (): Promise<Record<string, unknown>> => {
    try {
      const value: unknown = JSON.parse(await readFile(path, 'utf8'))
      return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
    } catch {
      return {}
    }
  }
  return {
    get: async (key) => {
      const value = (await read())[key]
      return typeof value === 'string' ? value : undefined
    },
    set: async (key, value) => {
      try {
        await mkdir(dirname(path), { recursive: true })
        const temp = `${path}.${process.pid}.tmp`
        await writeFile(temp, JSON.stringify({ ...(await read()), [key]: value }))
        await rename(temp, path)
      } catch {
        // a read-only home: kept for this process only
      }
    },
  }
}
