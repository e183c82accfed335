import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { decompressLz4Raw } from 'hyparquet-compressors'
import { describe, expect, it } from 'vitest'
import { mulberry32 } from '../src/compute/random.js'
import { lz4Compress, lz4DecompressBlock, lz4DecompressBlockInto } from '../src/parquet/lz4.js'
import { firstDifference } from './helpers/fixtures.js'

function roundTrip(src: Uint8Array): Uint8Array {
  const packed = lz4Compress(src)
  return decompressLz4Raw(packed, src.length)
}

describe('lz4Compress', () => {
  it('round-trips empty, tiny, repetitive and random inputs through an independent decoder', () => {
    const rand = mulberry32(7)
    const cases: Uint8Array[] = [new Uint8Array(0), new Uint8Array([1]), new Uint8Array(13).fill(9)]
    for (const n of [5, 12, 13, 16, 17, 100, 255, 270, 4096, 70_000]) {
      cases.push(Uint8Array.from({ length: n }, () => Math.floor(rand() * 256)))
      cases.push(Uint8Array.from({ length: n }, (_, i) => i % 7))
      cases.push(Uint8Array.from({ length: n }, (_, i) => (rand() < 0.9 ? 0 : i & 255)))
    }
    for (const src of cases) expect(firstDifference(roundTrip(src), src)).toBeUndefined()
  })

  it('the bounded decoder (into a new array, or into a reused one) decodes what an independent decoder does', () => {
    const rand = mulberry32(11)
    const random = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(rand() * 256))
    const cases: Uint8Array[] = [new Uint8Array(0), new Uint8Array(3136)]
    for (const n of [5, 13, 100, 4096, 70_000]) {
      cases.push(random(n)) // long literal runs
      cases.push(Uint8Array.from({ length: n }, (_, i) => i % 7)) // matches overlapping their own output
      cases.push(Uint8Array.from({ length: n }, (_, i) => (rand() < 0.9 ? 0 : i & 255))) // short literals and matches
    }
    // a long match clear of its output: 40 bytes seen 150 bytes earlier
    const head = random(100)
    cases.push(Uint8Array.from([...head, ...random(50), ...head.subarray(0, 40), ...random(20)]))
    let reused = new Uint8Array(0)
    for (const src of cases) {
      const packed = lz4Compress(src)
      const independent = decompressLz4Raw(packed, src.length)
      expect(firstDifference(lz4DecompressBlock(packed, src.length), independent)).toBeUndefined()
      if (reused.length < src.length) reused = new Uint8Array(src.length).fill(0xaa)
      expect(firstDifference(lz4DecompressBlockInto(packed, reused.subarray(0, src.length)), independent)).toBeUndefined()
      expect(() => lz4DecompressBlockInto(packed, new Uint8Array(src.length + 1))).toThrow(/expected/)
    }
  })

  it('a match reaches back over the literals before it that repeat too (as LZ4 does): no match could start a byte earlier', () => {
    // text: repeats at every distance, often found a few bytes in (the scan steps over misses)
    const text = new TextEncoder().encode(readFileSync(join(import.meta.dirname, '../docs/BENCHMARKS.md'), 'utf8').slice(0, 16_384))
    const packed = lz4Compress(text)
    expect(firstDifference(roundTrip(text), text)).toBeUndefined()
    // walk the sequences: before each match, its first byte's predecessor differs from the source's
    let i = 0
    let at = 0
    let matches = 0
    const length = (base: number) => {
      let len = base
      if (base === 15) for (let b = 255; b === 255; len += b) b = packed[i++] as number
      return len
    }
    while (i < packed.length) {
      const token = packed[i++] as number
      const literals = length(token >> 4)
      i += literals
      at += literals
      if (i >= packed.length) break
      const offset = (packed[i] as number) | ((packed[i + 1] as number) << 8)
      i += 2
      if (literals > 0) expect(text[at - 1] === text[at - 1 - offset], `match at ${at}`).toBe(false)
      matches++
      at += length(token & 15) + 4
    }
    expect(at).toBe(text.length)
    expect(matches).toBeGreaterThan(500)
    expect(packed.length).toBeLessThan(text.length / 1.7)
  })

  it('compresses runs (so MNIST-like zero pixels shrink) and keeps the last 5 bytes literal', () => {
    const src = new Uint8Array(3136) // 784 float32 zeros
    const packed = lz4Compress(src)
    expect(packed.length).toBeLessThan(64)
    expect(Array.from(packed.subarray(-5))).toEqual([0, 0, 0, 0, 0])
  })

  it('never starts a match in the last 12 bytes', () => {
    // a 12..20-byte repeat at the very end would tempt a greedy matcher
    for (let tail = 8; tail <= 20; tail++) {
      const src = new Uint8Array(64 + tail)
      for (let i = 0; i < 64; i++) src[i] = (i * 31) & 255
      src.set(src.subarray(0, tail), 64)
      const packed = lz4Compress(src)
      // walk sequences and check where each match starts in the output stream
      let ip = 0
      let op = 0
      while (ip < packed.length) {
        const token = packed[ip++] ?? 0
        let lit = token >>> 4
        if (lit === 15) for (let b = 255; b === 255; lit += b) b = packed[ip++] ?? 0
        ip += lit
        op += lit
        if (ip >= packed.length) break
        expect(op).toBeLessThanOrEqual(src.length - 12)
        ip += 2
        let ml = token & 15
        if (ml === 15) for (let b = 255; b === 255; ml += b) b = packed[ip++] ?? 0
        op += ml + 4
      }
      expect(op).toBe(src.length)
      expect(firstDifference(roundTrip(src), src)).toBeUndefined()
    }
  })
})
