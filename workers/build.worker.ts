/// <reference lib="webworker" />
import * as Comlink from 'comlink'
import { KeptWorkers, type SpawnKernelWorker } from '../src/compute/pool.js'
import { encoderFor, type QueryEncoder } from '../src/encode/encoders.js'
import { type PooledEncoder, pooledEncoder } from '../src/encode/pool.js'
import { type ModelLoad, USE_LITE, USE_LITE_DIM } from '../src/encode/useLite.js'
import { type BuildOptions, type BuildProgress, buildIndex } from '../src/index/build.js'
import { type EmbedSummary, embedTextColumn } from '../src/index/embed.js'
import { blobSource } from '../src/io/blobSource.js'
import { BlobSink, WritableFileSink } from '../src/io/sink.js'

/**
 * Index building off the UI thread. Everything crossing the boundary is plain data: the File,
 * options without callbacks, progress snapshots (polled), and the result bytes (transferred).
 */
/**
 * Build progress, or the embedding step before it (a file with text and no vectors), with the
 * encoder's model download while it loads; before that, with passages, their cutting.
 */
export type JobProgress = BuildProgress | { phase: 'passages' | 'embed'; done: number; total: number; model?: ModelLoad }

/** For a file with text and no vectors: which column to embed, with which encoder, as what (half floats or not). */
export interface EmbedRequest {
  text: string
  encoder: string
  as: string
  float16?: boolean
  /** Cut each text into passages of 40 words first, a row each (embed --passages). */
  passages?: boolean
}

interface Job {
  controller: AbortController
  progress: JobProgress | undefined
}

/** Kernel workers started from this worker: the build shares its work with them. */
const spawnWorker: SpawnKernelWorker = () => {
  const worker = new Worker(new URL('./kernel.worker.ts', import.meta.url), { type: 'module', name: 'parquetseek-kernels' })
  return { endpoint: worker, terminate: () => worker.terminate() }
}

/** Kernel workers kept from one build to the next (a dataset's files): started once, ended with this worker. */
const workers = new KeptWorkers()

/** Encoder workers: each holds one copy of the sentence encoder (a model call uses one core). */
function spawnEncodeWorker() {
  const worker = new Worker(new URL('./encode.worker.ts', import.meta.url), { type: 'module', name: 'parquetseek-encoder' })
  return { endpoint: worker, terminate: () => worker.terminate() }
}

type JobEncoder = QueryEncoder | PooledEncoder

/**
 * The last embedding job's encoder, kept for the next (a dataset's files, built in turn in this
 * worker, load the model once); its workers end with this one.
 */
let kept: { id: string; encoder: JobEncoder } | undefined

/**
 * The encoder for an embedding job: use-lite-512 on one worker per core (at most 4: each holds
 * the model), anything else (hash-ngram: fast) right here; the last job's, when it asked for the same.
 */
function jobEncoder(id: string): JobEncoder | undefined {
  if (kept?.id === id) return kept.encoder
  dropEncoder()
  const encoder =
    id === USE_LITE
      ? pooledEncoder({ id: USE_LITE, dim: USE_LITE_DIM }, spawnEncodeWorker, Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)))
      : encoderFor(id)
  if (encoder) kept = { id, encoder }
  return encoder
}

/** Closes the kept encoder (another is asked for, or a job using it failed or was cancelled mid-batch). */
function dropEncoder() {
  if (kept && 'close' in kept.encoder) kept.encoder.close()
  kept = undefined
}

const jobs = new Map<number, Job>()
let nextId = 1

const api = {
  start(): number {
    const id = nextId++
    jobs.set(id, { controller: new AbortController(), progress: undefined })
    return id
  },

  /**
   * Builds `file`'s index. With `target` (a file handle the user picked), the output streams
   * straight to that file; otherwise it ends as a Blob (never concatenated in memory). With
   * `embed`, the text column is embedded first (into a Blob) and that file is indexed.
   */
  async run(
    id: number,
    file: File,
    options: Omit<BuildOptions, 'signal' | 'onProgress'>,
    target?: FileSystemFileHandle,
    embed?: EmbedRequest,
  ) {
    const job = jobs.get(id)
    if (!job) throw new Error(`no build job ${id}`)
    try {
      let input: Blob = file
      let embedded: EmbedSummary | undefined
      if (embed) {
        const encoder = jobEncoder(embed.encoder)
        if (!encoder) throw new Error(`no encoder ${embed.encoder} in this page`)
        const staged = new BlobSink()
        // until the first rows are done, the model's download is the progress
        const watch =
          'modelLoad' in encoder
            ? setInterval(() => {
                void encoder.modelLoad().then((model) => {
                  if (job.progress?.phase === 'embed' && model && !model.done) job.progress = { ...job.progress, model }
                })
              }, 250)
            : undefined
        try {
          job.progress = { phase: embed.passages ? 'passages' : 'embed', done: 0, total: 0 }
          embedded = await embedTextColumn(blobSource(file), staged, {
            text: embed.text,
            as: embed.as,
            float16: embed.float16,
            passages: embed.passages ? {} : undefined,
            encoder,
            file: file.name,
            signal: job.controller.signal,
            onPassages: (done, total) => {
              job.progress = { phase: 'passages', done, total }
            },
            onProgress: (done, total) => {
              job.progress = { phase: 'embed', done, total }
            },
          })
        } catch (e) {
          dropEncoder()
          throw e
        } finally {
          clearInterval(watch)
        }
        input = staged.blob as Blob
      }
      const sink = target ? new WritableFileSink(await target.createWritable()) : new BlobSink()
      const summary = await buildIndex(blobSource(new File([input], file.name)), sink, {
        threads: Math.max(1, Math.min(8, navigator.hardwareConcurrency || 1)),
        // navigator.deviceMemory (GiB, Chrome) rounds down; give the build at most half of it
        memoryLimitBytes: ((navigator as { deviceMemory?: number }).deviceMemory ?? 4) * 2 ** 29,
        spawnWorker,
        workers,
        ...options,
        file: file.name,
        signal: job.controller.signal,
        onProgress: (p) => {
          job.progress = p
        },
      })
      return { summary, embedded, blob: sink instanceof BlobSink ? sink.blob : undefined }
    } finally {
      jobs.delete(id)
    }
  },

  progress(id: number): JobProgress | undefined {
    return jobs.get(id)?.progress
  },

  cancel(id: number): void {
    jobs.get(id)?.controller.abort()
  },
}

export type BuildWorkerApi = typeof api
Comlink.expose(api)
