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
