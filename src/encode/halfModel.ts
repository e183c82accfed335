import { concatBytes } from '../io/source.js'
import { halfBits } from '../parquet/numbers.js'

/** A TensorFlow.js model.json: its graph, and its weights listed in the order their bytes follow one another. */
export interface ModelJson {
  weightsManifest: Array<{ paths: string[]; weights: WeightEntry[] }>
  [key: string]: unknown
}

interface WeightEntry {
  name: string
  shape: number[]
  dtype: string
  quantization?: { dtype: string; [key: string]: unknown }
}

/** Weights with fewer values stay float32: vectors and scalars, a few KiB in all. */
const HALF_FROM = 2048

/**
 * The model with each float32 matrix stored as half floats (TensorFlow.js's `float16`
 * quantization: the loader widens them back to float32), its weights in shards of at most
 * `shardBytes` (a browser fetches them side by side). use-lite-512 is 27.9 MB of weights, 14.0 MB
 * so; its sentence vectors stay within cosine 0.99999 of the full model's (0.9999991 at worst on
 * the 200 held-out senses `npm run bench:encoder` encodes).
 * `shards`: the model's weight files in its manifest's order. Throws on a model it cannot read.
 */
export function halfPrecisionModel(
  model: ModelJson,
  shards: Uint8Array[],
  shardBytes = 4 << 20,
): { model: ModelJson; shards: Array<{ name: string; bytes: Uint8Array }> } {
  const groups = model.weightsManifest
  if (groups.length !== 1) throw new Error(`a model of ${groups.length} weight groups (one expected)`)
  const all = concatBytes(shards)
  const parts: Uint8Array[] = []
  let at = 0
  const weights = (groups[0] as { weights: WeightEntry[] }).weights.map((w) => {
    const count = w.shape.reduce((a, b) => a * b, 1)
    const size = count * 4
    if (w.quantization || (w.dtype !== 'float32' && w.dtype !== 'int32'))
      throw new Error(`weight ${w.name}: ${w.quantization ? 'already quantized' : w.dtype} (float32 or int32 expected)`)
    if (at + size > all.length) throw new Error(`weight ${w.name} ends at byte ${at + size}, past the shards' ${all.length}`)
    const bytes = all.subarray(at, at + size)
    at += size
    if (w.dtype !== 'float32' || count < HALF_FROM) {
      parts.push(bytes)
      return w
    }
    const values = new Float32Array(bytes.slice().buffer)
    const halves = new Uint16Array(count)
    for (let i = 0; i < count; i++) halves[i] = halfBits(values[i] as number)
    parts.push(new Uint8Array(halves.buffer))
    return { ...w, quantization: { dtype: 'float16', original_dtype: 'float32' } }
  })
  if (at !== all.length) throw new Error(`the shards hold ${all.length} bytes, the weights ${at}`)
  const packed = concatBytes(parts)
  const count = Math.max(1, Math.ceil(packed.length / shardBytes))
  const out = Array.from({ length: count }, (_, i) => ({
    name: `group1-shard${i + 1}of${count}`,
    bytes: packed.subarray(i * shardBytes, Math.min(packed.length, (i + 1) * shardBytes)),
  }))
  return { model: { ...model, weightsManifest: [{ paths: out.map((s) => s.name), weights }] }, shards: out }
}
