import type { CompressionCodec, PageHeader } from 'hyparquet'
import { parquetHeader } from 'hyparquet/src/column.js'
import { decompressPage } from 'hyparquet/src/datapage.js'
import { ParquetSeekError } from '../errors.js'
import { codecs } from './codecs.js'
import type { EmbeddingColumn } from './embedding.js'

export interface PageContext {
  file?: string
  column: string
  /** File offset of the page, for messages. */
  offset: number
  row: number
}

/**
 * Decodes one embedding data page (as the builder writes them: one row, DataPage V2, PLAIN)
 * into `out` at `at`. Levels sit uncompressed before the values, so only the values are
 * decompressed. Throws, naming row and offset, for anything else.
 */
export function decodeVectorPage(
  bytes: Uint8Array,
  column: Pick<EmbeddingColumn, 'kind' | 'element'>,
  codec: CompressionCodec,
  dim: number,
  out: Float32Array,
  at: number,
  ctx: PageContext,
): void {
  function fail(message: string): never {
    throw new ParquetSeekError(message, { file: ctx.file, column: ctx.column, row: ctx.row, offset: ctx.offset })
  }
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }
  let header: PageHeader
  try {
    header = parquetHeader(reader)
  } catch (e) {
    fail(`unreadable page header (${(e as Error).message})`)
  }
  const v2 = header.data_page_header_v2
  if (header.type !== 'DATA_PAGE_V2' || !v2) fail(`expected a DATA_PAGE_V2 holding one vector, found ${header.type}`)
  if (v2.encoding !== 'PLAIN') fail(`vector page encoding is ${v2.encoding}, expected PLAIN`)
  const levels = v2.repetition_levels_byte_length + v2.definition_levels_byte_length
  const bodyStart = reader.offset + levels
  const bodyEnd = reader.offset + header.compressed_page_size
  if (levels < 0 || bodyEnd > bytes.length || bodyStart > bodyEnd)
    fail(`page of ${header.compressed_page_size} bytes does not fit the ${bytes.length} bytes read`)
  const valuesSize = header.uncompressed_page_size - levels
  const count = v2.num_values - v2.num_nulls
  const width = column.element === 'DOUBLE' ? 8 : 4
  const expectedBytes = column.kind === 'flba' ? dim * 4 : dim * width
  // the size the schema allows is checked before anything is allocated or decompressed: a
  // header claiming 1 GiB must not cost 1 GiB
  if (valuesSize !== expectedBytes) fail(`vector page claims ${valuesSize} bytes of values, a ${dim}-d vector has ${expectedBytes}`)
  const compressed = bytes.subarray(bodyStart, bodyEnd)
  let values: Uint8Array
  try {
    values = v2.is_compressed === false ? compressed : decompressPage(compressed, valuesSize, codec, codecs)
  } catch (e) {
    fail(`cannot decompress the vector page (${(e as Error).message})`)
  }
  if ((column.kind === 'list' && count !== dim) || (column.kind === 'flba' && count !== 1) || values.length !== expectedBytes) {
    fail(`vector page holds ${count} values in ${values.length} bytes, expected a ${dim}-d vector`)
  }
  const view = new DataView(values.buffer, values.byteOffset, values.byteLength)
  if (width === 8 && column.kind === 'list') for (let j = 0; j < dim; j++) out[at + j] = view.getFloat64(j * 8, true)
  else for (let j = 0; j < dim; j++) out[at + j] = view.getFloat32(j * 4, true)
  // the builder indexes finite vectors only: anything else here is a damaged page
  for (let j = 0; j < dim; j++)
    if (!Number.isFinite(out[at + j] as number)) fail(`vector page holds a non-finite value at ${j} (damaged page)`)
}
