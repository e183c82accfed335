import { ParquetSeekError, throwIfAborted } from '../errors.js'

/**
 * Query encoders turn text into a query vector with the same model that embedded the file.
 * A file names its model in the footer key `parquetseek.model`; `encoderFor` returns the
 * encoder registered for that name, or undefined when this build has none (the app then
 * offers row and vector queries only). Register more with `registerEncoder`.
 */
export interface QueryEncoder {
  /** The model name as stored in files. */
  readonly id: string
  readonly dim: number
  /** One vector per text, in order. */
  encode(texts: string[]): Promise<Float32Array[]>
  /**
   * Loads what the first `encode` needs (a model's download), so that a query typed meanwhile
   * does not wait for it; a page calls it when a person starts typing. Absent: nothing to load.
   */
  prepare?(): Promise<void>
}

type Factory = (id: string) => QueryEncoder | undefined
const factories: Factory[] = []

export function registerEncoder(factory: Factory): void {
  factories.unshift(factory)
}

export function encoderFor(model: string | undefined): QueryEncoder | undefined {
  if (!model) return undefined
  for (const f of factories) {
    const e = f(model)
    if (e) return e
  }
  return undefined
}

/** An encoder spread over worker threads, stopped by `close()`. */
export type ClosableEncoder = QueryEncoder & { close(): void }
type PoolFactory = (id: string, threads: number) => ClosableEncoder | undefined
const pools: PoolFactory[] = []

/** Registers a model's encoder on `threads` worker threads, for embedding whole columns (Node: use-lite-512). */
export function registerEncoderPool(factory: PoolFactory): void {
  pools.unshift(factory)
}

/**
 * The encoder for embedding a column with `model` on `threads` threads: a pool where one is
 * registered and threads > 1 (close it after), else the model's own encoder; undefined for a
 * model this build has none for.
 */
export function columnEncoder(model: string, threads = 1): (QueryEncoder & { close?(): void }) | undefined {
  if (threads > 1)
    for (const f of pools) {
      const pool = f(model, threads)
      if (pool) return pool
    }
  return encoderFor(model)
}

/** A text query as a vector, with the model the file names (footer key parquetseek.model). */
export async function encodeText(model: string | undefined, text: string, file?: string): Promise<Float32Array> {
  return (await encodeTexts(model, [text], file))[0] as Float32Array
}

/** Text queries as vectors, in one call of the encoder of the model the file names. */
async function encodeTexts(model: string | undefined, texts: string[], file?: string): Promise<Float32Array[]> {
  // (use-lite-512 failed on an empty text deep inside TensorFlow.js; spaces alone mean nothing either)
  if (texts.some((t) => !t.trim())) throw new ParquetSeekError('the text query is empty: type a few words to search for', { file })
  const encoder = encoderFor(model)
  if (!encoder)
    throw new ParquetSeekError(
      model
        ? `no query encoder for the file's model "${model}" in this build`
        : 'the file does not name the model that made its vectors (footer key parquetseek.model); query by vector or by row instead',
      { file },
    )
  return encoder.encode(texts)
}

/** A query: a vector, or text to embed with the model that made the index's vectors. */
export type Query = ArrayLike<number> | string

/**
 * Queries as vectors: a vector as given, each text embedded with `model()` — the model that made
 * the file's vectors, asked for only when there is text (files naming different models still
 * search by vector) — all texts in one call of the encoder.
 */
export async function queryVectors(
  queries: readonly Query[],
  model: () => string | undefined,
  file?: string,
  signal?: AbortSignal,
): Promise<ArrayLike<number>[]> {
  // (not an array: the pipeline says what searchBatch takes)
  if (!Array.isArray(queries)) return queries as ArrayLike<number>[]
  const texts = queries.filter((q): q is string => typeof q === 'string')
  if (!texts.length) return queries as ArrayLike<number>[]
  const vectors = await encodeTexts(model(), texts, file)
  throwIfAborted(signal)
  let next = 0
  return queries.map((q) => (typeof q === 'string' ? (vectors[next++] as Float32Array) : q))
}

/**
 * Positions of `texts` in batches of at most `batch` for a model that pads each batch to its
 * longest text: sorted by length (ties in order), so a batch pads little — use-lite-512 on
 * WordNet's texts, batches of 32: 71 texts/s sorted, 49 in order. The batches depend only on the
 * texts, so every caller cutting the same texts (one thread, or a pool of workers) gets the
 * same batches and so the same vectors, bit for bit.
 */
export function lengthBatches(texts: readonly string[], batch: number): number[][] {
  const order = texts.map((_, i) => i).sort((a, b) => (texts[a] as string).length - (texts[b] as string).length || a - b)
  const out: number[][] = []
  for (let i = 0; i < order.length; i += batch) out.push(order.slice(i, i + batch))
  return out
}

/**
 * The batch's vectors; when the encoder refuses the batch (a text it cannot embed: hash-ngram
 * and "!!!", which has no words), each text alone, and null for those it refuses.
 */
export async function encodeEach(encoder: QueryEncoder, texts: string[]): Promise<Array<Float32Array | null>> {
  try {
    return await encoder.encode(texts)
  } catch (e) {
    if (!(e instanceof ParquetSeekError) || texts.length === 1) {
      if (e instanceof ParquetSeekError) return [null]
      throw e
    }
    const out: Array<Float32Array | null> = []
    for (const t of texts) out.push(...(await encodeEach(encoder, [t])))
    return out
  }
}

/**
 * `parquetseek/hash-ngram-v1:<dim>`: a deterministic lexical embedding that needs no model
 * download — feature hashing of words, word pairs and character trigrams (signed buckets,
 * log₂(1 + tf) weights), unit length, for cosine search. It matches shared words and spellings,
 * not meaning; it is what the built-in demo uses, and any file embedded with it can be queried
 * by text anywhere.
 */
export const HASH_NGRAM = 'parquetseek/hash-ngram-v1'

export function hashNgramEncoder(dim = 256): QueryEncoder {
  if (!Number.isInteger(dim) || dim < 8 || dim > 4096) throw new ParquetSeekError(`hash-ngram dimension must be 8…4096, got ${dim}`)
  return {
    id: `${HASH_NGRAM}:${dim}`,
    dim,
    encode: async (texts) =>
      texts.map((t) => {
        if (!words(t).length) throw new ParquetSeekError(`the query text "${t.slice(0, 40)}" has no words to search for`)
        return hashNgram(t, dim)
      }),
  }
}

registerEncoder((id) => {
  const m = /^parquetseek\/hash-ngram-v1:(\d+)$/.exec(id)
  return m ? hashNgramEncoder(Number(m[1])) : undefined
})

/** Words: runs of letters or digits, lower-cased, accents removed. */
export function words(text: string): string[] {
  return (
    text
      .normalize('NFKD')
      .replace(/\p{M}+/gu, '')
      .toLowerCase()
      .match(/[\p{L}\p{N}]+/gu) ?? []
  )
}

/** Very common English words weigh little. */
const STOP = new Set('a an and are as at be by for from has in is it of on or that the this to was were with'.split(' '))

function fnv1a(s: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

export function hashNgram(text: string, dim: number): Float32Array {
  const counts = new Map<string, number>()
  const add = (feature: string, weight: number) => counts.set(feature, (counts.get(feature) ?? 0) + weight)
  const ws = words(text)
  for (const [i, w] of ws.entries()) {
    const weight = STOP.has(w) ? 0.15 : 1
    add(`w:${w}`, weight)
    if (i > 0) add(`b:${ws[i - 1]} ${w}`, 0.5 * weight)
    // trigrams carry spelling: "mountains" ~ "mountain", "snowy" ~ "snow"
    const padded = `<${w}>`
    for (let j = 0; j + 3 <= padded.length; j++) add(`c:${padded.slice(j, j + 3)}`, 0.5 * weight)
  }
  const v = new Float32Array(dim)
  for (const [feature, tf] of counts) {
    const h = fnv1a(feature)
    const sign = Math.imul(h, 0x9e3779b1) & 0x80000000 ? -1 : 1
    const at = h % dim
    v[at] = (v[at] as number) + sign * (Math.log1p(tf) / Math.LN2)
  }
  let norm = 0
  for (const x of v) norm += x * x
  if (norm > 0) for (let j = 0; j < dim; j++) v[j] = (v[j] as number) / Math.sqrt(norm)
  return v
}
