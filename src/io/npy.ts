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

/** A 2-d little-endian, C-order .npy array of int32 or float32 (`rows` × `cols`): ground-truth files. */
export function encodeNpy(a: Int32Array | Float32Array, rows: number, cols: number): Uint8Array {
  let header = `{'descr': '<${a instanceof Int32Array ? 'i4' : 'f4'}', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`
  header += `${' '.repeat(63 - ((10 + header.length) % 64))}\n`
  const out = new Uint8Array(10 + header.length + a.byteLength)
  out.set([0x93, ...new TextEncoder().encode('NUMPY'), 1, 0, header.length & 0xff, header.length >> 8])
  out.set(new TextEncoder().encode(header), 10)
  out.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), 10 + header.length)
  return out
}
