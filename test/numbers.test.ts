import { unconvertFloat16 } from 'hyparquet-writer/src/unconvert.js'
import { describe, expect, it } from 'vitest'
import { halfBits, halfFloats } from '../src/parquet/numbers.js'

/** hyparquet-writer's half float of a number, as 16 bits: the reference halfBits must match. */
const reference = (v: number) => {
  const bytes = unconvertFloat16(v) as Uint8Array
  return (bytes[0] as number) | ((bytes[1] as number) << 8)
}
const floatOf = (bits: number) => new Float32Array(Uint32Array.of(bits).buffer)[0] as number

describe('half floats', () => {
  it("halfBits gives hyparquet-writer's bits for float32s across the range, and at every edge: ties, subnormals, overflow, zeros, NaN", () => {
    const bits: number[] = []
    // every 65,537th float32 of each sign: all exponents, mantissas that are not round numbers
    for (let b = 0; b < 0x80000000; b += 65537) bits.push(b, (b | 0x80000000) >>> 0)
    const edges = [
      0x33000000, // 2^-25: half the smallest subnormal, ties to zero
      0x33000001, // just over: the smallest subnormal
      0x337fffff,
      0x33c00000, // 1.5 × 2^-24: ties to the even 2 × 2^-24
      0x38800000, // 2^-14: the smallest normal half
      0x387fffff, // just under it: a subnormal that carries into it
      0x387fe000,
      0x3f801000, // 1 + 2^-11: ties to the even 1
      0x3f803000, // 1 + 3 × 2^-11: ties to the even 1 + 2^-9
      0x477fe000, // 65,504, the largest half
      0x477fefff, // under 65,520: rounds down to it
      0x477ff000, // 65,520: ties past it, to Infinity
      0x7f7fffff, // the largest float32
      0x7f800000, // Infinity
      0x7fc00000, // NaN
      0x00000001, // the smallest float32 subnormal
      0x00000000,
    ]
    for (const e of edges) for (const d of [-2, -1, 0, 1, 2]) bits.push(((e + d) & 0x7fffffff) >>> 0, ((e + d) | 0x80000000) >>> 0)
    const wrong = bits.filter((b) => {
      const v = floatOf(b)
      return halfBits(v) !== reference(v)
    })
    expect(wrong.map((b) => `0x${b.toString(16)}: ${halfBits(floatOf(b))} not ${reference(floatOf(b))}`)).toEqual([])
    expect(bits.length).toBeGreaterThan(65000)
  })

  it('every half float read back (halfFloats) is written as its own bits, NaNs as one NaN', () => {
    const halves = halfFloats()
    const wrong: number[] = []
    for (let h = 0; h < 65536; h++) {
      const nan = (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0
      if (halfBits(halves[h] as number) !== (nan ? 0x7e00 : h)) wrong.push(h)
    }
    expect(wrong).toEqual([])
  })
})
