import { beforeAll, describe, expect, it } from 'vitest'
import type { GpuKernels } from '../src/compute/gpu/kernels.js'
import { nodeGpuKernels } from '../src/compute/gpu/node.js'
import { l2sq, pqScan } from '../src/compute/js.js'
import { mulberry32 } from '../src/index/random.js'

// WebGPU through Dawn in Node. Without a GPU it runs on Chromium's SwiftShader (.ci/run installs
// chromium and libvulkan1): slow, so sizes stay small; real speed is what bench:gpu measures.
let kernels: GpuKernels | undefined
let reason = ''
beforeAll(async () => {
  const got = await nodeGpuKernels()
  kernels = got.kernels
  reason = got.reason ?? ''
}, 60_000)

const rand = mulberry32(99)
const randoms = (n: number) => Float32Array.from({ length: n }, () => rand() * 2 - 1)
const close = (got: number, want: number) => Math.abs(got - want) <= 1e-5 * Math.max(1, Math.abs(want))

describe('WebGPU kernels match the TypeScript reference (tolerance 1e-5 relative)', () => {
  it('a WebGPU adapter is available (SwiftShader when there is no GPU)', () => {
    expect(kernels, reason).toBeDefined()
  })

  it.each([
    [1, 37, 3],
    [3, 1000, 100],
    [2, 513, 768],
  ])('exact L2: %i queries × %i vectors × %i dims', async (q, n, dim) => {
    const queries = randoms(q * dim)
    const vectors = randoms(n * dim)
    const got = await (kernels as GpuKernels).l2Distances(queries, vectors, dim)
    let bad = 0
    for (let qi = 0; qi < q; qi++)
      for (let v = 0; v < n; v++) if (!close(got[qi * n + v] as number, l2sq(queries, qi * dim, vectors, v * dim, dim))) bad++
    expect(bad).toBe(0)
  })

  it.each([
    [1, 1, 256],
    [777, 25, 256],
    [3000, 96, 256],
    [500, 7, 16],
  ])('PQ scan: %i code rows × m %i, ksub %i', async (n, m, ksub) => {
    const table = randoms(m * ksub)
    const codes = Uint8Array.from({ length: n * m }, () => Math.floor(rand() * ksub))
    const want = new Float32Array(n)
    pqScan(table, ksub, codes, n, m, 0.25, want)
    const got = await (kernels as GpuKernels).pqScan(table, ksub, codes, n, m, 0.25)
    let bad = 0
    for (let i = 0; i < n; i++) if (!close(got[i] as number, want[i] as number)) bad++
    expect(bad).toBe(0)
  })
})
