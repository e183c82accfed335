import * as Comlink from 'comlink'
import type { SpawnedWorker } from '../compute/pool.js'
import { encoderFor, lengthBatches, type QueryEncoder } from './encoders.js'
import { type ModelLoad, modelLoad } from './useLite.js'

/** What an encoder worker exposes: encode with the model registered there under `model`. */
export interface EncodeWorkerApi {
  encode(model: string, texts: string[]): Promise<Float32Array[]>
  /** Where the worker's model download stands. */
  modelLoad(): ModelLoad | undefined
}

/** The worker side: answers with the encoders registered in the worker (transferring the vectors). */
export function encodeWorkerApi(): EncodeWorkerApi {
  return {
    encode: async (model, texts) => {
      const encoder = encoderFor(model)
      if (!encoder) throw new Error(`no encoder "${model}" is registered in this worker`)
      const out = await encoder.encode(texts)
      return Comlink.transfer(out, [...new Set(out.map((v) => v.buffer as ArrayBuffer))])
    },
    modelLoad,
  }
}

export interface PooledEncoder extends QueryEncoder {
  /** The first worker's model download (they load at once, from the same cache). */
  modelLoad(): Promise<ModelLoad | undefined>
  /** Stops the workers (a later encode fails). */
  close(): void
}

/**
 * One encoder spread over `threads` workers, each with its own copy of the model (a model call
 * uses one core). Texts are cut into batches of `batch` by `lengthBatches`, as one thread's
 * use-lite-512 cuts them, and the workers take batches as they come free; vectors come back in
 * the caller's order. The batches depend only on the texts, so any thread count, one included,
 * gives the same vectors (a text's vector differs from the one it gets alone by ~1e-7: padding).
 */
export function pooledEncoder(model: { id: string; dim: number }, spawn: () => SpawnedWorker, threads: number, batch = 32): PooledEncoder {
  const spawned: SpawnedWorker[] = []
  const workers: Comlink.Remote<EncodeWorkerApi>[] = []
  let closed = false
  const start = () => {
    if (closed) throw new Error(`the ${model.id} encoder pool is closed`)
    while (spawned.length < Math.max(1, threads)) {
      const s = spawn()
      spawned.push(s)
      workers.push(Comlink.wrap<EncodeWorkerApi>(s.endpoint))
    }
  }
  return {
    id: model.id,
    dim: model.dim,
    encode: async (texts) => {
      start()
      const batches = lengthBatches(texts, batch)
      const out = new Array<Float32Array>(texts.length)
      let next = 0
      await Promise.all(
        workers.map(async (w) => {
          while (next < batches.length) {
            const picked = batches[next++] as number[]
            const vectors = await w.encode(
              model.id,
              picked.map((i) => texts[i] as string),
            )
            for (const [j, i] of picked.entries()) out[i] = vectors[j] as Float32Array
          }
        }),
      )
      return out
    },
    modelLoad: async () => (workers[0] ? await workers[0].modelLoad() : undefined),
    close: () => {
      closed = true
      for (const w of workers) w[Comlink.releaseProxy]()
      for (const s of spawned) s.terminate()
      spawned.length = 0
      workers.length = 0
    },
  }
}
