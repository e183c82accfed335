import type { CompressionCodec, PageHeader } from 'hyparquet'
import { parquetHeader } from 'hyparquet/src/column.js'
import { decompressPage } from 'hyparquet/src/datapage.js'
import { deltaBinaryUnpack } from 'hyparquet/src/delta.js'
import { readVarInt } from 'hyparquet/src/thrift.js'
import { ParquetSeekError } from '../errors.js'
import { codecs } from './codecs.js'
import { type EmbeddingColumn, pageEncoding, valueBytes } from './embedding.js'
import { checkPageHeader } from './guard.js'
import { lz4DecompressBlockInto } from './lz4.js'
import { halfFloats, LITTLE_ENDIAN } from './numbers.js'

/** A page's values, decompressed: one buffer reused by every decode (grown to the largest page). */
let scratch = new Uint8Array(0)
function scratchBytes(length: number): Uint8Array {
  if (scratch.length < length) scratch = new Uint8Array(Math.max(length, 2 * scratch.length))
  return scratch.subarray(0, length)
}

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
  checkPageHeader(header, { file: ctx.file, column: ctx.column, row: ctx.row, offset: ctx.offset })
  const encoding = column.kind === 'list' ? pageEncoding(column.element) : 'PLAIN'
  if (v2.encoding !== encoding) fail(`vector page encoding is ${v2.encoding}, expected ${encoding}`)
  const levels = v2.repetition_levels_byte_length + v2.definition_levels_byte_length
  const bodyStart = reader.offset + levels
  const bodyEnd = reader.offset + header.compressed_page_size
  if (levels < 0 || bodyEnd > bytes.length || bodyStart > bodyEnd)
    fail(`page of ${header.compressed_page_size} bytes does not fit the ${bytes.length} bytes read`)
  const valuesSize = header.uncompressed_page_size - levels
  const count = v2.num_values - v2.num_nulls
  const delta = encoding === 'DELTA_BINARY_PACKED'
  const expectedBytes = column.kind === 'flba' ? dim * 4 : delta ? deltaBound(dim) : dim * valueBytes(column.element)
  // the size the schema allows is checked before anything is allocated or decompressed: a
  // header claiming 1 GiB must not cost 1 GiB
  if (delta ? valuesSize > expectedBytes || valuesSize < 4 : valuesSize !== expectedBytes)
    fail(`vector page claims ${valuesSize} bytes of values, a ${dim}-d vector has ${delta ? `at most ${expectedBytes}` : expectedBytes}`)
  const compressed = bytes.subarray(bodyStart, bodyEnd)
  let values: Uint8Array
  try {
    if (v2.is_compressed === false) values = compressed
    // the builder's codec: decoded into the reused, aligned buffer (no allocation a page)
    else if (codec === 'LZ4_RAW') values = lz4DecompressBlockInto(compressed, scratchBytes(valuesSize))
    else values = decompressPage(compressed, valuesSize, codec, codecs)
  } catch (e) {
    fail(`cannot decompress the vector page (${(e as Error).message})`)
  }
  if ((column.kind === 'list' && count !== dim) || (column.kind === 'flba' && count !== 1) || values.length !== valuesSize) {
    fail(`vector page holds ${count} values in ${values.length} bytes, expected a ${dim}-d vector`)
  }
  const element = column.kind === 'flba' ? 'FLOAT' : column.element
  if (element === 'FLOAT' && LITTLE_ENDIAN) {
    // float32 on a little-endian machine (every browser's): the bytes are the values — one copy,
    // through the aligned buffer when they sit at an odd offset (a page stored uncompressed)
    const aligned = values.byteOffset % 4 === 0 ? values : scratchBytes(values.length)
    if (aligned !== values) aligned.set(values)
    out.set(new Float32Array(aligned.buffer, aligned.byteOffset, dim), at)
  } else {
    const view = new DataView(values.buffer, values.byteOffset, values.byteLength)
    if (element === 'DOUBLE') for (let j = 0; j < dim; j++) out[at + j] = view.getFloat64(j * 8, true)
    else if (element === 'FLOAT') for (let j = 0; j < dim; j++) out[at + j] = view.getFloat32(j * 4, true)
    else if (element === 'FLOAT16') {
      const half = halfFloats()
      for (let j = 0; j < dim; j++) out[at + j] = half[view.getUint16(j * 2, true)] as number
    }
    // 8- and 16-bit integers, stored as INT32, DELTA_BINARY_PACKED
    else {
      const ints = unpackDeltas(view, dim, fail)
      for (let j = 0; j < dim; j++) out[at + j] = ints[j] as number
    }
  }
  // the builder indexes finite vectors only: anything else here is a damaged page. v · 0 is 0 for
  // a finite v and NaN for any other, so four running sums of them say whether all are finite —
  // 0.38 µs a 768-d page, where Number.isFinite on each value took 1.0 (of a 2.3–3.5 µs decode)
  let z0 = 0
  let z1 = 0
  let z2 = 0
  let z3 = 0
  let j = 0
  for (; j + 3 < dim; j += 4) {
    z0 += (out[at + j] as number) * 0
    z1 += (out[at + j + 1] as number) * 0
    z2 += (out[at + j + 2] as number) * 0
    z3 += (out[at + j + 3] as number) * 0
  }
  for (; j < dim; j++) z0 += (out[at + j] as number) * 0
  if (z0 + z1 + z2 + z3 !== 0)
    for (let k = 0; k < dim; k++)
      if (!Number.isFinite(out[at + k] as number)) fail(`vector page holds a non-finite value at ${k} (damaged page)`)
}

/** Decodes each of `pages` (as decodeVectorPage) into `out`, page i at i · dim; `contextOf(i)` names page i in errors. */
export function decodeVectorPages(
  pages: readonly Uint8Array[],
  column: Pick<EmbeddingColumn, 'kind' | 'element'>,
  codec: CompressionCodec,
  dim: number,
  out: Float32Array,
  contextOf: (i: number) => PageContext,
): void {
  for (let i = 0; i < pages.length; i++) decodeVectorPage(pages[i] as Uint8Array, column, codec, dim, out, i * dim, contextOf(i))
}

/** Most bytes DELTA_BINARY_PACKED takes for `dim` INT32 values: a header of four varints, then blocks of 128 values of at most 32 bits, each with its min delta and widths. */
function deltaBound(dim: number): number {
  return 20 + Math.ceil(dim / 128) * (5 + 4 + 512)
}

/** One page's integers, reused by every decode. */
let deltaScratch = new Int32Array(0)

/**
 * DELTA_BINARY_PACKED integers (hyparquet's deltaBinaryUnpack) once their header is checked:
 * with no miniblocks, or of no values, the unpacker reads on to the page's end and fails there
 * ("Offset is outside the bounds of the DataView"), naming nothing of what is wrong.
 */
function unpackDeltas(view: DataView, dim: number, fail: (message: string) => never): Int32Array {
  const reader = { view, offset: 0 }
  try {
    const blockSize = readVarInt(reader)
    const miniblocks = readVarInt(reader)
    const total = readVarInt(reader)
    const perMiniblock = blockSize / miniblocks
    if (!(blockSize > 0 && blockSize % 128 === 0 && miniblocks > 0 && Number.isInteger(perMiniblock) && perMiniblock % 32 === 0))
      fail(`vector page's delta header is not one Parquet allows (block ${blockSize}, ${miniblocks} miniblocks)`)
    if (total !== dim) fail(`vector page's delta header counts ${total} values, expected a ${dim}-d vector`)
    if (deltaScratch.length < dim) deltaScratch = new Int32Array(dim)
    const ints = deltaScratch.subarray(0, dim)
    deltaBinaryUnpack({ view, offset: 0 }, dim, ints)
    return ints
  } catch (e) {
    if (e instanceof ParquetSeekError) throw e
    return fail(`cannot unpack the vector page's integers (${(e as Error).message})`)
  }
}
