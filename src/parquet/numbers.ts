import { parseFloat16 } from 'hyparquet/src/convert.js'

/** Whether this machine stores numbers little-endian, as Parquet does (every browser's does). */
export const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1

/** Every half float's value by its 16 bits (hyparquet's parseFloat16), made on first use: 256 KiB. */
let halves: Float32Array | undefined
export function halfFloats(): Float32Array {
  if (!halves) {
    halves = new Float32Array(65536)
    const bytes = new Uint8Array(2)
    for (let h = 0; h < 65536; h++) {
      bytes[0] = h & 255
      bytes[1] = h >> 8
      halves[h] = parseFloat16(bytes) as number
    }
  }
  return halves
}

/** A float32's bits, read through one shared word. */
const word = new Float32Array(1)
const wordBits = new Uint32Array(word.buffer)

/**
 * A number's nearest half float, as its 16 bits (IEEE 754 binary16, ties to even; ±Infinity past
 * the largest half, any NaN as 0x7e00), taken from its float32 value: the same bits as hyparquet-writer's
 * unconvertFloat16 for every float32 (test/numbers.test.ts), without its arrays and DataView a
 * value — the sentence encoder's 7 M weights in a fraction of a second, not 10 s.
 */
export function halfBits(value: number): number {
  word[0] = value
  const bits = wordBits[0] as number
  const sign = (bits >>> 16) & 0x8000
  const abs = bits & 0x7fffffff
  if (abs > 0x7f800000) return 0x7e00 // NaN, of either sign
  if (abs === 0x7f800000) return sign | 0x7c00 // ±Infinity
  if (abs >= 0x477ff000) return sign | 0x7c00 // 65,520 and up round past the largest half (65,504)
  if (abs >= 0x38800000) {
    // a normal half: the exponent rebiased (127 → 15), 13 bits of mantissa rounded off (a carry
    // moves into the exponent, as it should)
    const rest = abs & 0x1fff
    const half = (abs - 0x38000000) >>> 13
    return sign | (rest > 0x1000 || (rest === 0x1000 && half & 1) ? half + 1 : half)
  }
  if (abs < 0x33000000) return sign // under 2^-25: zero (2^-25 itself ties to the even zero)
  // a subnormal half counts 2^-24s: the float's 24-bit significand shifted right 14 to 24 places
  const shift = 126 - (abs >>> 23)
  const significand = (abs & 0x7fffff) | 0x800000
  const rest = significand & ((1 << shift) - 1)
  const halfway = 1 << (shift - 1)
  const units = significand >>> shift
  return sign | (rest > halfway || (rest === halfway && units & 1) ? units + 1 : units)
}
