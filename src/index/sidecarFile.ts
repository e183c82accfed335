import type { ByteSink } from '../io/sink.js'
import type { ByteSource } from '../io/source.js'
import { footerLength } from '../parquet/footer.js'
import type { PageTable } from '../parquet/pageLocations.js'
import { parseTrailer, storageOrder, storedEntries, writeBlob } from './blob.js'
import type { IndexParams, InvertedLists, IvfPqModel } from './model.js'

/**
 * A sidecar index: the same IVF-PQ blob, in its own file, over Parquet files left untouched.
 * Layout: `PQSEEK-SIDECAR1`, a u32 header length, the header (JSON: column, sources with their
 * size, row count, first global row and a SHA-256 of their footer), then the blob, then (where
 * asked for) a copy of the sources' vectors. Rows in the
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
  /**
   * The bytes at its end that opening it reads: its footer, and its offset indexes when they lie
   * just before it (openingTail). Absent from a build before it: open then asks for 64 KiB.
   */
  tailBytes?: number
  /**
   * Where the pages of its column chunks without an offset index lie (walked at build): by row
   * group, the chunk's dotted leaf path → [first row, byte offset, bytes, …] a page. Absent when
   * every chunk has an offset index (or from a build before page tables).
   */
  pages?: StoredPageTable
}

export type StoredPageTable = Array<Record<string, number[]>>

/** A page table as a sidecar stores it: three numbers a page. */
export function storedPageTable(table: PageTable): StoredPageTable {
  return table.map((group) =>
    Object.fromEntries(
      Object.entries(group).map(([path, pages]) => [
        path,
        pages.flatMap((p) => [Number(p.first_row_index), Number(p.offset), p.compressed_page_size]),
      ]),
    ),
  )
}

export interface SidecarHeader {
  format: 'parquetseek-sidecar'
  version: 1
  column: string
  sources: SidecarSource[]
  blobOffset: number
  blobLength: number
  /**
   * Bytes at the blob's end that opening reads (trailer, centroids, codebooks, directory: the
   * trailer's headBytes), so that open asks for them at once. Absent from sidecars before it.
   */
  headBytes?: number
  params: IndexParams
  /**
   * The sources' vectors, copied (`index --sidecar --sidecar-vectors`): float32 little-endian, one
   * a list entry, in the order the entries are stored — the lists in the order of their offsets in
   * the lists section, each list's entries in order (a spilled row again in the list it spilled
   * into). Refining a candidate reads its 4·dim bytes here rather than its page from the source,
   * and a query's candidates, from the few lists nearest it, lie close together: one read or a few.
   */
  vectors?: { offset: number; length: number }
}

/**
 * Vectors written after the blob (SidecarHeader.vectors): `write` puts the vector of each row of
 * `rows` (global rows, one a list entry in storage order) at its entry: `put(entry, bytes)` writes
 * the dim float32 vectors of entries `entry`, `entry + 1`, … (as many as `bytes` holds), each
 * entry once, in any order.
 */
export interface SidecarVectorsWriter {
  dim: number
  write(rows: Uint32Array, put: (entry: number, bytes: Uint8Array) => Promise<void>): Promise<void>
}

/** The row of each list entry, in the order the lists (`storage`) and their entries are stored. */
function entryRows(lists: InvertedLists, storage: Uint32Array): Uint32Array {
  const rows = new Uint32Array(lists.rowIds.length)
  let at = 0
  for (const l of storage) for (const e of storedEntries(lists, l)) rows[at++] = lists.rowIds[e] as number
  return rows
}

/** SHA-256 (hex) of a Parquet file's footer and its length + magic: what identifies its content. */
export async function footerHash(source: ByteSource): Promise<string> {
  const end = source.byteLength
  const length = footerLength(new Uint8Array(await source.slice(end - 8, end)), end, source.name)
  const footer = await source.slice(end - 8 - length, end)
  const digest = await crypto.subtle.digest('SHA-256', footer)
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Writes a sidecar (header, the blob, then the vectors where given) and commits the sink. The
 * blob's page locations are 0: search finds pages through each source's offset index, or its
 * `pages` table here (or reads candidates' vectors from the sidecar's own copy). */
export async function writeSidecar(
  sink: ByteSink,
  {
    column,
    model,
    params,
    lists,
    sources,
    vectors,
  }: {
    column: string
    model: IvfPqModel
    params: IndexParams
    lists: InvertedLists
    sources: SidecarSource[]
    vectors?: SidecarVectorsWriter
  },
): Promise<SidecarHeader> {
  try {
    const n = lists.rowIds.length
    const pages = { offsets: new Float64Array(n), lengths: new Uint32Array(n) }
    // (the order the lists are stored in: the copied vectors follow it)
    const storage = storageOrder(model.centroids, params.nlist, params.dim)
    const blob = writeBlob({ params, centroids: model.centroids, codebooks: model.codebooks, lists, pages, storage })
    const { headBytes } = parseTrailer(blob, blob.length)
    const draft = {
      format: 'parquetseek-sidecar' as const,
      version: 1 as const,
      column,
      sources,
      params,
      blobLength: blob.length,
      headBytes,
    }
    const align = (at: number) => Math.ceil(at / 64) * 64
    // the header's own length decides the blob's offset (and the vectors', after it): grow the
    // estimate until it settles
    let blobOffset = 0
    let json = ''
    let copied: SidecarHeader['vectors']
    for (;;) {
      copied = vectors && { offset: align(blobOffset + blob.length), length: n * vectors.dim * 4 }
      json = JSON.stringify({ ...draft, blobOffset, ...(copied ? { vectors: copied } : {}) })
      const next = align(SIDECAR_MAGIC.length + 4 + new TextEncoder().encode(json).length)
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
    if (vectors && copied) {
      const { writeAt } = sink
      if (!writeAt) throw new Error('copying the vectors into a sidecar needs a sink that writes at a position (a file)')
      await sink.write(new Uint8Array(copied.offset - blobOffset - blob.length))
      const size = vectors.dim * 4
      let written = 0
      await vectors.write(entryRows(lists, storage), async (entry, bytes) => {
        if (bytes.length % size !== 0 || (entry + bytes.length / size) * size > copied.length)
          throw new Error(
            `vectors of ${bytes.length} bytes at entry ${entry}: not whole vectors inside the ${copied.length} bytes announced`,
          )
        written += bytes.length
        await writeAt.call(sink, copied.offset + entry * size, bytes)
      })
      // (each entry once: as many bytes as announced is every entry)
      if (written !== copied.length) throw new Error(`${written} bytes of vectors where ${copied.length} were announced`)
    }
    await sink.commit()
    return JSON.parse(json) as SidecarHeader
  } catch (e) {
    await sink.abort()
    throw e
  }
}
