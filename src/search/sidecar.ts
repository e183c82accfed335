import type { FileMetaData } from 'hyparquet'
import { parquetReadObjects, readOffsetIndex } from 'hyparquet'
import { type BackendChoice, loadKernels } from '../compute/backend.js'
import { decoding, ParquetSeekError } from '../errors.js'
import { type ListView, parseList } from '../index/blob.js'
import { loadIndexHead } from '../index/inspect.js'
import type { IvfPqModel, Metric } from '../index/model.js'
import { pqLayout } from '../index/pq.js'
import { footerHash, SIDECAR_MAGIC, type SidecarHeader } from '../index/sidecar.js'
import { BatchingSource } from '../io/batching.js'
import { CachedSource } from '../io/cache.js'
import { openHttp } from '../io/httpSource.js'
import { readRanges, waves } from '../io/ranges.js'
import { type ByteSource, CountingSource } from '../io/source.js'
import { codecs } from '../parquet/codecs.js'
import { copyVector, describeEmbeddingColumn, type EmbeddingColumn, readColumnRange } from '../parquet/embedding.js'
import { readMetadata } from '../parquet/footer.js'
import { guardPages } from '../parquet/guard.js'
import { exactDistance, kernelKind, prepareQuery } from './metric.js'
import { probe } from './probe.js'
import { ListScanner } from './scan.js'
import { TopK } from './topk.js'

/** Offset indexes of a source larger than this are read when needed rather than kept at open. */
const MAX_PAGE_INDEX_BYTES = 16 << 20

/** The byte range holding every column chunk's offset index (writers put them together, before the footer). */
function offsetIndexSpan(metadata: FileMetaData): { start: number; end: number } | undefined {
  let start = Number.POSITIVE_INFINITY
  let end = 0
  for (const group of metadata.row_groups)
    for (const chunk of group.columns) {
      if (chunk.offset_index_offset === undefined || chunk.offset_index_length === undefined) continue
      start = Math.min(start, Number(chunk.offset_index_offset))
      end = Math.max(end, Number(chunk.offset_index_offset) + chunk.offset_index_length)
    }
  return end > start ? { start, end } : undefined
}

/** A sidecar's JSON header names its sources: 16 MiB holds ~100,000 of them. */
const MAX_HEADER_BYTES = 16 << 20

/** One source of a sidecar index, opened and checked against what the index recorded. */
interface OpenedSource {
  name: string
  source: CountingSource
  /** Recent pages: candidates sharing a page (pages often hold many vectors) read it once. */
  cached: CachedSource
  metadata: FileMetaData
  column: EmbeddingColumn
  rowBase: number
  rows: number
  /** First row of each vector page, by row group (parsed offset indexes). */
  pageStarts: Map<number, number[]>
}

export interface SidecarHit {
  file: string
  row: number
  distance: number
  values: Record<string, unknown>
}

/**
 * Search through a sidecar index (src/index/sidecar.ts) over unmodified Parquet files: lists
 * come from the sidecar, candidate vectors and result columns from the sources — through their
 * offset indexes (only the pages holding them), or whole column chunks where a source has none.
 */
export class SidecarIndex {
  private readonly lists = new Map<number, ListView>()

  private constructor(
    readonly header: SidecarHeader,
    private readonly sidecar: CountingSource,
    readonly model: IvfPqModel,
    private readonly directory: Array<{ offset: number; count: number; length: number; crc: number }>,
    private readonly listsOffset: number,
    readonly sources: OpenedSource[],
    private readonly scanner: ListScanner,
    /** Sources without an offset index on the vector column (refinement reads whole chunks). */
    readonly warnings: string[],
  ) {}

  /** `resolve` turns a source name as recorded into something to read (a path's ByteSource, or a URL). */
  static async open(
    sidecarSource: ByteSource,
    resolve: (name: string) => Promise<ByteSource | string>,
    o: { backend?: BackendChoice; signal?: AbortSignal } = {},
  ): Promise<SidecarIndex> {
    const file = sidecarSource.name
    const sidecar = new CountingSource(sidecarSource)
    const first = new Uint8Array(await sidecar.slice(0, Math.min(sidecar.byteLength, 1 << 16), o.signal))
    if (String.fromCharCode(...first.subarray(0, SIDECAR_MAGIC.length)) !== SIDECAR_MAGIC)
      throw new ParquetSeekError(`not a ParquetSeek sidecar index (no ${SIDECAR_MAGIC} magic)`, { file })
    const jsonLength = new DataView(first.buffer).getUint32(SIDECAR_MAGIC.length, true)
    const start = SIDECAR_MAGIC.length + 4
    if (jsonLength > MAX_HEADER_BYTES)
      throw new ParquetSeekError(`header of ${jsonLength} bytes is over the ${MAX_HEADER_BYTES}-byte limit`, {
        file,
        offset: SIDECAR_MAGIC.length,
      })
    if (start + jsonLength > sidecar.byteLength)
      throw new ParquetSeekError(`header of ${jsonLength} bytes runs past the file`, { file, offset: SIDECAR_MAGIC.length })
    const jsonBytes =
      start + jsonLength <= first.length
        ? first.subarray(start, start + jsonLength)
        : new Uint8Array(await sidecar.slice(start, start + jsonLength, o.signal))
    let header: SidecarHeader
    try {
      header = JSON.parse(new TextDecoder().decode(jsonBytes)) as SidecarHeader
    } catch {
      throw new ParquetSeekError('the sidecar header is not JSON', { file, offset: start })
    }
    if (
      typeof header !== 'object' ||
      header === null ||
      header.format !== 'parquetseek-sidecar' ||
      header.version !== 1 ||
      typeof header.params !== 'object' ||
      header.params === null ||
      !Array.isArray(header.sources) ||
      !header.sources.length
    )
      throw new ParquetSeekError('unsupported or malformed sidecar header', { file, offset: start })
    const location = {
      column: header.column,
      offset: header.blobOffset,
      length: header.blobLength,
      params: header.params as unknown as Record<string, unknown>,
    }
    if (location.offset + location.length > sidecar.byteLength)
      throw new ParquetSeekError('the index runs past the sidecar file', { file, offset: location.offset })
    const head = await loadIndexHead(sidecar, location, file)
    const params = { ...header.params, ...head.trailer.params, metric: head.trailer.params.metric as Metric }
    const model: IvfPqModel = {
      params,
      centroids: head.centroids,
      codebooks: head.codebooks,
      layout: pqLayout(params.dim, params.m, params.nbits),
    }
    const sources: OpenedSource[] = []
    const warnings: string[] = []
    for (const [i, s] of header.sources.entries()) {
      const whole = (v: unknown) => Number.isSafeInteger(v) && (v as number) >= 0
      if (
        typeof s !== 'object' ||
        s === null ||
        typeof s.name !== 'string' ||
        typeof s.footerSha256 !== 'string' ||
        !whole(s.size) ||
        !whole(s.rows) ||
        !whole(s.rowBase)
      )
        throw new ParquetSeekError(`source ${i} of the header is malformed`, { file, offset: start })
      const input = await resolve(s.name)
      const opened = typeof input === 'string' ? await openHttp(input, { signal: o.signal }) : undefined
      const source = new CountingSource(opened?.source ?? (input as ByteSource))
      const cached = new CachedSource(source, 64 << 20)
      // the first request's tail (footer, page indexes) serves the checks and reads below
      if (opened) cached.pin(opened.tailStart, opened.tail)
      if (source.byteLength !== s.size || (await footerHash(cached)) !== s.footerSha256)
        throw new ParquetSeekError(
          `stale index: the file changed since the sidecar was built (${source.byteLength === s.size ? 'footer differs' : `size ${source.byteLength}, was ${s.size}`}); rebuild the sidecar`,
          { file: s.name },
        )
      const metadata = await readMetadata(cached, source.name)
      const column = describeEmbeddingColumn(metadata, header.column, s.name)
      if (metadata.row_groups.some((g) => g.columns[column.leafIndex]?.offset_index_offset === undefined))
        warnings.push(`${s.name} has no offset index on "${column.name}": refining its candidates reads whole column chunks`)
      // every offset index, read once here and kept: a query then reads only pages
      const span = offsetIndexSpan(metadata)
      if (span && !cached.peek(span.start, span.end) && span.end - span.start <= MAX_PAGE_INDEX_BYTES)
        cached.pin(span.start, new Uint8Array(await source.slice(span.start, span.end, o.signal)))
      sources.push({ name: s.name, source, cached, metadata, column, rowBase: s.rowBase, rows: s.rows, pageStarts: new Map() })
    }
    const kernels = await loadKernels(o.backend)
    return new SidecarIndex(
      header,
      sidecar,
      model,
      head.directory,
      location.offset + head.trailer.sections.lists.offset,
      sources,
      new ListScanner(model, kernels),
      warnings,
    )
  }

  get rows(): number {
    return this.sources.reduce((n, s) => n + s.rows, 0)
  }

  async search(
    query: ArrayLike<number>,
    o: { k?: number; nprobe?: number; refine?: number; columns?: string[]; signal?: AbortSignal } = {},
  ): Promise<{ results: SidecarHit[]; stats: { bytes: number; requests: number; roundTrips: number; candidates: number } }> {
    const { dim, nlist, m, metric } = this.model.params
    if (query.length !== dim) throw new ParquetSeekError(`the query has ${query.length} values; the index is ${dim}-d`)
    const k = o.k ?? 10
    const refine = o.refine ?? this.model.params.refine ?? 10
    const nprobe = Math.min(nlist, o.nprobe ?? this.model.params.nprobe ?? Math.ceil(nlist / 3))
    const counters = [this.sidecar, ...this.sources.map((s) => s.source)]
    const before = counters.map((c) => ({ ...c.counts }))
    const kind = kernelKind(metric)
    const q = prepareQuery(Float32Array.from(query), metric)
    const probed = probe(q, this.model.centroids, nlist, kind, nprobe)
    const missing = Array.from(probed).filter((l) => !this.lists.has(l) && (this.directory[l]?.count ?? 0) > 0)
    const bodies = await readRanges(
      this.sidecar,
      missing.map((l) => {
        const d = this.directory[l] as { offset: number; length: number }
        return { start: this.listsOffset + d.offset, end: this.listsOffset + d.offset + d.length }
      }),
      { signal: o.signal },
    )
    for (const [i, l] of missing.entries())
      this.lists.set(
        l,
        parseList(
          bodies[i] as Uint8Array,
          this.directory[l] as never,
          m,
          l,
          { file: this.sidecar.name, blobOffset: this.header.blobOffset },
          { rows: this.rows },
        ),
      )
    const top = new TopK(k * refine)
    for (const l of probed) {
      const list = this.lists.get(l)
      if (list) this.scanner.scan(q, kind, l, list.codes, list.rowIds, top)
    }
    const candidates = top.sorted().map((c) => c.row)
    if (new Set(candidates).size !== candidates.length)
      throw new ParquetSeekError('a row is in more than one list (each row belongs to one)', { file: this.sidecar.name, section: 'lists' })
    // exact distances from each candidate's vector in its source: every page holding candidates
    // read at once (each source's reads coalesced into one round trip) and decoded once, however
    // many candidates it holds (a source's pages hold many vectors: decoding one per candidate
    // cost seconds a query)
    const best = new TopK(k)
    const refining = this.batchPerSource(o.signal)
    const bySource = new Map<OpenedSource, number[]>()
    for (const g of candidates) {
      const { source, row } = this.locate(g)
      bySource.set(source, [...(bySource.get(source) ?? []), row])
    }
    const vector = new Float32Array(dim)
    await Promise.all(
      [...bySource].map(async ([source, rows]) => {
        rows.sort((a, b) => a - b)
        await Promise.all(
          (await this.pageWindows(source, rows)).map(async (w) => {
            const values = await readColumnRange(
              refining(source),
              source.metadata,
              source.column.name,
              w.start,
              w.end,
              source.name,
              o.signal,
            )
            for (const row of rows) {
              const value = row >= w.start && row < w.end ? values[row - w.start] : undefined
              if (value === null || value === undefined) continue
              copyVector(vector, 0, value as ArrayLike<number> | Uint8Array, source.column.kind)
              best.push(exactDistance(metric, q, vector, 0), source.rowBase + row)
            }
          }),
        )
      }),
    )
    const columns = o.columns ?? []
    const projecting = this.batchPerSource(o.signal)
    const results = await Promise.all(
      best.sorted().map(async (h) => {
        const { source, row } = this.locate(h.row)
        const [values = {}] = columns.length
          ? await decoding(`reading row ${row}`, { file: source.name }, () =>
              parquetReadObjects({
                file: guardPages(projecting(source), source.metadata, source.name),
                metadata: source.metadata,
                columns,
                rowStart: row,
                rowEnd: row + 1,
                useOffsetIndex: true,
                compressors: codecs,
              }),
            )
          : [{}]
        return { file: source.name, row, distance: h.distance, values: values as Record<string, unknown> }
      }),
    )
    // sources are read in parallel: a stage costs the round trips of its slowest source
    const trips = (batches: ReturnType<typeof this.batchPerSource>) => Math.max(0, ...batches.all().map((b) => b.roundTrips))
    const stats = {
      bytes: counters.reduce((n, c, i) => n + c.counts.bytes - (before[i]?.bytes ?? 0), 0),
      requests: counters.reduce((n, c, i) => n + c.counts.requests - (before[i]?.requests ?? 0), 0),
      // the lists: one multi-range request, or (a host without it) waves of single ranges
      roundTrips: waves(this.sidecar.counts.requests - (before[0]?.requests ?? 0)) + trips(refining) + trips(projecting),
      candidates: candidates.length,
    }
    return { results, stats }
  }

  /** One batching reader per source, made on first use: reads issued together go out together. */
  private batchPerSource(signal?: AbortSignal) {
    const made = new Map<OpenedSource, BatchingSource>()
    const of = (source: OpenedSource) => {
      const b = made.get(source) ?? new BatchingSource(source.cached, undefined, undefined, signal)
      made.set(source, b)
      return b
    }
    return Object.assign(of, { all: () => [...made.values()] })
  }

  /** Forgets fetched lists (sources' cached pages and offset indexes stay). */
  clearCache(): void {
    this.lists.clear()
  }

  /** Source and local row of a global row. */
  private locate(global: number): { source: OpenedSource; row: number } {
    for (const s of this.sources) if (global >= s.rowBase && global < s.rowBase + s.rows) return { source: s, row: global - s.rowBase }
    throw new ParquetSeekError(`row ${global} is in none of the sidecar's sources`)
  }

  /**
   * Row windows [start, end) of a source that hold the given rows (sorted, local): the vector
   * column's pages holding any of them, from its offset index (kept at open); a row group
   * without one is a single window. Each window is one page to read and decode.
   */
  private async pageWindows(source: OpenedSource, rows: number[]): Promise<Array<{ start: number; end: number }>> {
    const windows: Array<{ start: number; end: number }> = []
    let groupStart = 0
    let at = 0
    for (const [g, group] of source.metadata.row_groups.entries()) {
      const groupEnd = groupStart + Number(group.num_rows)
      if (at < rows.length && (rows[at] as number) < groupEnd) {
        const firsts = [...(await this.pageStarts(source, g)), Number(group.num_rows)]
        for (let p = 0; p + 1 < firsts.length && at < rows.length && (rows[at] as number) < groupEnd; p++) {
          const start = groupStart + (firsts[p] as number)
          const end = groupStart + (firsts[p + 1] as number)
          if ((rows[at] as number) >= end) continue
          windows.push({ start, end })
          while (at < rows.length && (rows[at] as number) < end) at++
        }
      }
      groupStart = groupEnd
    }
    return windows
  }

  /** First row (within the row group) of each vector page, from the offset index; [0] without one. */
  private async pageStarts(source: OpenedSource, group: number): Promise<number[]> {
    const known = source.pageStarts.get(group)
    if (known) return known
    const chunk = source.metadata.row_groups[group]?.columns[source.column.leafIndex]
    let starts = [0]
    if (chunk?.offset_index_offset !== undefined && chunk.offset_index_length !== undefined) {
      const offset = Number(chunk.offset_index_offset)
      const bytes = new Uint8Array(await source.cached.slice(offset, offset + chunk.offset_index_length))
      const index = await decoding('reading the offset index', { file: source.name, column: source.column.name, offset }, () =>
        readOffsetIndex({ view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }),
      )
      starts = index.page_locations.map((p) => Number(p.first_row_index))
      if (starts[0] !== 0 || starts.some((s, i) => i > 0 && s <= (starts[i - 1] as number)))
        throw new ParquetSeekError("the offset index's pages do not start at row 0 and ascend", {
          file: source.name,
          column: source.column.name,
          offset,
        })
    }
    source.pageStarts.set(group, starts)
    return starts
  }
}
