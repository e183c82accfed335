import type { ByteSink } from '../io/sink.js'
import type { ByteSource } from '../io/source.js'
import { footerLength } from '../parquet/footer.js'
import type { PageTable } from '../parquet/pageLocations.js'
import { writeBlob } from './blob.js'
import type { IndexParams, InvertedLists, IvfPqModel } from './model.js'

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
  params: IndexParams
}

/** SHA-256 (hex) of a Parquet file's footer and its length + magic: what identifies its content. */
export async function footerHash(source: ByteSource): Promise<string> {
  const end = source.byteLength
  const length = footerLength(new Uint8Array(await source.slice(end - 8, end)), end, source.name)
  const footer = await source.slice(end - 8 - length, end)
  const digest = await crypto.subtle.digest('SHA-256', footer)
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Writes a sidecar (header, then the blob) and commits the sink. The blob's page locations are
 * 0: search finds pages through each source's offset index, or its `pages` table here. */
export async function writeSidecar(
  sink: ByteSink,
  {
    column,
    model,
    params,
    lists,
    sources,
  }: { column: string; model: IvfPqModel; params: IndexParams; lists: InvertedLists; sources: SidecarSource[] },
): Promise<SidecarHeader> {
  try {
    const n = lists.rowIds.length
    const pages = { offsets: new Float64Array(n), lengths: new Uint32Array(n) }
    const blob = writeBlob({ params, centroids: model.centroids, codebooks: model.codebooks, lists, pages })
    const draft = { format: 'parquetseek-sidecar' as const, version: 1 as const, column, sources, params, blobLength: blob.length }
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
