import type { CompressionCodec, OffsetIndex, PageHeader } from 'hyparquet'
import { parquetHeader } from 'hyparquet/src/column.js'
import { decompressPage } from 'hyparquet/src/datapage.js'
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js'
import { ParquetSeekError } from '../errors.js'
import { codecs } from './codecs.js'

type PageLocation = OffsetIndex['page_locations'][number]

export interface ChunkInfo {
  file?: string
  column: string
  /** Where the chunk's bytes start in the original file (for error messages). */
  sourceOffset: number
  codec: CompressionCodec
  maxRepetitionLevel: number
}

/**
 * Rebuilds a column chunk's offset index by walking its page headers, for input files written
 * without one (DuckDB's, for example). `bytes` is the whole chunk; locations are reported
 * relative to `newStart`, where the chunk will live in the output.
 */
export function pageLocationsFromHeaders(bytes: Uint8Array, newStart: number, info: ChunkInfo): PageLocation[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const reader = { view, offset: 0 }
  const out: PageLocation[] = []
  let rows = 0n
  while (reader.offset < bytes.length) {
    const pageStart = reader.offset
    let header: PageHeader
    try {
      header = parquetHeader(reader)
    } catch (e) {
      throw new ParquetSeekError(`unreadable page header (${(e as Error).message})`, {
        file: info.file,
        column: info.column,
        offset: info.sourceOffset + pageStart,
      })
    }
    const bodyStart = reader.offset
    const end = bodyStart + header.compressed_page_size
    if (header.compressed_page_size < 0 || end > bytes.length) {
      throw new ParquetSeekError(`page of ${header.compressed_page_size} bytes overruns its column chunk`, {
        file: info.file,
        column: info.column,
        offset: info.sourceOffset + pageStart,
      })
    }
    if (header.type === 'DATA_PAGE' || header.type === 'DATA_PAGE_V2') {
      out.push({ offset: BigInt(newStart + pageStart), compressed_page_size: end - pageStart, first_row_index: rows })
      rows += BigInt(rowsInPage(header, bytes.subarray(bodyStart, end), info))
    }
    reader.offset = end
  }
  return out
}

function rowsInPage(header: PageHeader, body: Uint8Array, info: ChunkInfo): number {
  if (header.data_page_header_v2) return header.data_page_header_v2.num_rows
  const values = header.data_page_header?.num_values ?? 0
  if (info.maxRepetitionLevel === 0) return values
  // V1 page of a nested column: rows start where the repetition level is 0.
  const page = decompressPage(body, header.uncompressed_page_size, info.codec, codecs)
  const levels = new Array<number>(values)
  const width = 32 - Math.clz32(info.maxRepetitionLevel)
  readRleBitPackedHybrid({ view: new DataView(page.buffer, page.byteOffset, page.byteLength), offset: 0 }, width, levels)
  let rows = 0
  for (const level of levels) if (level === 0) rows++
  return rows
}
