import type { FileMetaData } from 'hyparquet'
import { jsKernels, type Kernels } from '../compute/backend.js'
import { ParquetSeekError } from '../errors.js'
import type { ByteSink } from '../io/sink.js'
import type { ByteSource } from '../io/source.js'
import { describeEmbeddingColumn, readVectors } from '../parquet/embedding.js'
import { writeBlob } from './blob.js'
import { readMetadata } from './build.js'
import type { IndexParams, Metric } from './model.js'
import { encodeAll, normalizeRows, type ParamOptions, resolveParams, trainModel } from './train.js'
import { tuneNprobe } from './tune.js'

/**
 * A sidecar index: the same IVF-PQ blob, in its own file, over Parquet files left untouched.
 * Layout: `PQSEEK-SIDECAR1`, a u32 header length, the header (JSON: column, sources with their
 * size, row count, first global row and a SHA-256 of their footer), then the blob. Rows in the
 * lists are global: source i's row r is `rowBase[i] + r`. Opening checks every source's size
 * and footer hash, so an index over files that changed is reported rather than misread.
 */
export const SIDECAR_MAGIC = 'PQSEEK-SIDECAR1'

export interface SidecarSource {
  /** As given to the build (a path relative to the sidecar, or a URL). */
  name: string
  size: number
  rows: number
  rowBase: number
  footerSha256: string
}

export interface SidecarHeader {
  format: 'parquetseek-sidecar'
  version: 1
  column: string
  sources: SidecarSource[]
  blobOffset: number
  blobLength: number
  params: IndexParams
}

/** SHA-256 (hex) of a Parquet file's footer and its length + magic: what identifies its content. */
export async function footerHash(source: ByteSource): Promise<string> {
  const end = source.byteLength
  const tail = new DataView(await source.slice(end - 8, end))
  const length = tail.getUint32(0, true)
  if (length + 8 > end) throw new ParquetSeekError(`footer length ${length} exceeds the file`, { file: source.name })
  const footer = await source.slice(end - 8 - length, end)
  const digest = await crypto.subtle.digest('SHA-256', footer)
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

export interface SidecarBuildOptions extends ParamOptions {
  column: string
  metric?: Metric
  skipInvalid?: boolean
  kernels?: Kernels
  signal?: AbortSignal
}

/** Builds a sidecar over `inputs` (each opened, named as it should be found again). */
export async function buildSidecar(
  inputs: Array<{ name: string; source: ByteSource }>,
  sink: ByteSink,
  o: SidecarBuildOptions,
): Promise<SidecarHeader> {
  try {
    const kernels = o.kernels ?? jsKernels
    const sources: SidecarSource[] = []
    const parts: Array<{ data: Float32Array; rowIds: Uint32Array; dim: number }> = []
    let rowBase = 0
    let dim = 0
    for (const { name, source } of inputs) {
      const metadata: FileMetaData = await readMetadata(source, name)
      const column = describeEmbeddingColumn(metadata, o.column, name)
      const v = await readVectors(source, metadata, column, { file: name, skipInvalid: o.skipInvalid, signal: o.signal })
      if (dim && v.dim !== dim)
        throw new ParquetSeekError(`vectors are ${v.dim}-d here, ${dim}-d in the files before`, { file: name, column: o.column })
      dim = v.dim
      parts.push({ data: v.data, rowIds: v.rowIds.map((r) => r + rowBase), dim })
      sources.push({ name, size: source.byteLength, rows: v.rows, rowBase, footerSha256: await footerHash(source) })
      rowBase += v.rows
    }
    const n = parts.reduce((s, p) => s + p.rowIds.length, 0)
    const data = new Float32Array(n * dim)
    const rowIds = new Uint32Array(n)
    let at = 0
    for (const p of parts) {
      data.set(p.data, at * dim)
      rowIds.set(p.rowIds, at)
      at += p.rowIds.length
    }
    const params = resolveParams(rowBase, n, dim, o)
    if (params.metric === 'cosine') normalizeRows(data, n, dim, rowIds, o.column)
    const model = await trainModel(data, n, params, { kernels, signal: o.signal })
    const lists = await encodeAll(model, data, n, rowIds, { kernels, signal: o.signal })
    const tuned = await tuneNprobe(model, lists, data, rowIds, {
      seed: params.seed,
      minNprobe: Math.ceil(params.nlist / 3),
      kernels,
      signal: o.signal,
    })
    params.nprobe = tuned.nprobe
    params.refine = tuned.refine
    params.tunedRecall = Math.round(tuned.recall * 1000) / 1000
    // pages are found through each source's offset index at search time, not stored
    const pages = { offsets: new Float64Array(n), lengths: new Uint32Array(n) }
    const blob = writeBlob({ params, centroids: model.centroids, codebooks: model.codebooks, lists, pages })
    const draft = {
      format: 'parquetseek-sidecar' as const,
      version: 1 as const,
      column: o.column,
      sources,
      params,
      blobLength: blob.length,
    }
    // the header's own length decides the blob's offset: grow the estimate until it settles
    let blobOffset = 0
    let json = ''
    for (;;) {
      json = JSON.stringify({ ...draft, blobOffset })
      const next = Math.ceil((SIDECAR_MAGIC.length + 4 + new TextEncoder().encode(json).length) / 64) * 64
      if (next === blobOffset) break
      blobOffset = next
    }
    const head = new Uint8Array(blobOffset)
    head.set(new TextEncoder().encode(SIDECAR_MAGIC))
    const jsonBytes = new TextEncoder().encode(json)
    new DataView(head.buffer).setUint32(SIDECAR_MAGIC.length, jsonBytes.length, true)
    head.set(jsonBytes, SIDECAR_MAGIC.length + 4)
    await sink.write(head)
    await sink.write(blob)
    await sink.commit()
    return JSON.parse(json) as SidecarHeader
  } catch (e) {
    await sink.abort()
    throw e
  }
}
