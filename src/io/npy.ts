import { ParquetSeekError } from '../errors.js'

export interface NpyArray {
  shape: number[]
  data: Int32Array | Float32Array | Float64Array | BigInt64Array
}

/** Reads a little-endian, C-order .npy array of int32, int64, float32 or float64 (ground-truth files). */
export function parseNpy(bytes: Uint8Array, file?: string): NpyArray {
  const magic = String.fromCharCode(...bytes.subarray(1, 6))
  if (bytes[0] !== 0x93 || magic !== 'NUMPY') throw new ParquetSeekError('not a .npy file', { file })
  const major = bytes[6] ?? 0
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true)
  const start = major === 1 ? 10 : 12
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength))
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1]
  const fortran = /'fortran_order':\s*True/.test(header)
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map(Number)
  if (fortran) throw new ParquetSeekError('Fortran-order .npy arrays are not supported', { file })
  const body = bytes.slice(start + headerLength)
  const count = shape.reduce((a, b) => a * b, 1)
  const types = { '<i4': Int32Array, '<f4': Float32Array, '<f8': Float64Array, '<i8': BigInt64Array } as const
  const Type = types[descr as keyof typeof types]
  if (!Type) throw new ParquetSeekError(`unsupported .npy dtype ${descr}`, { file })
  if (body.byteLength < count * Type.BYTES_PER_ELEMENT) throw new ParquetSeekError('.npy file is truncated', { file })
  return { shape, data: new Type(body.buffer, 0, count) }
}
