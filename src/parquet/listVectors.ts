import type { AsyncBuffer, ColumnMetaData, DataPageHeader, FileMetaData, OffsetIndex, PageHeader } from 'hyparquet'
import { readOffsetIndex } from 'hyparquet'
import { parquetHeader } from 'hyparquet/src/column.js'
import { decompressPage } from 'hyparquet/src/datapage.js'
import { deltaBinaryUnpack } from 'hyparquet/src/delta.js'
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js'
import { getMaxDefinitionLevel, getMaxRepetitionLevel } from 'hyparquet/src/schema.js'
import { overlong } from '../compute/metric.js'
import { ParquetSeekError } from '../errors.js'
import { codecs } from './codecs.js'
import { checkVector, type EmbeddingColumn } from './embedding.js'
import { checkLevels, checkPageHeader } from './guard.js'
import { halfFloats, LITTLE_ENDIAN } from './numbers.js'

type PageLocation = OffsetIndex['page_locations'][number]

/** A row that is no vector: its value as stored (null, an empty list, numbers and nulls) and why (checkVector). */
export interface InvalidVector {
  /** The row, counted from the block's first. */
  at: number
  value: Array<number | null> | null
  reason: string
}

/**
 * A block of rows' vectors, row-major: data is rows × dim, an invalid row's slots zero. `dim` is
 * the length asked for, or (asked for none) the first row's that is a list; 0 when none is.
 */
export interface VectorMatrix<Data extends Float32Array | Float64Array = Float32Array> {
  dim: number
  data: Data
  invalid: InvalidVector[]
}

/**
 * Rows [rowStart, rowEnd) (of the file; row group `g` begins at `groupStart`) of a `list`
 * embedding column, decoded from their pages straight into one Float32Array. hyparquet builds a
 * JS array for every row and assembles them from the levels (200,000 × 384 floats: ~10 s and
 * ~1 GiB of garbage, half the time collecting it); vectors need none of that.
 *
 * Every row is assembled from the levels as Dremel defines rows (a row begins at repetition level
 * 0): a full, finite vector goes into the matrix; any other row — null, empty, ragged, holding a
 * null or a value that is not a finite float32, too long for float32 distances — is listed in
 * `invalid` with its value and checkVector's reason. hyparquet assembles DuckDB's NULL of a
 * fixed-size array (FLOAT[n], written as n levels below the list) as n rows, shifting every later
 * row of the page; here it is the one null row it is. Values PLAIN or dictionary-encoded
 * (pyarrow's first pages), or DELTA_BINARY_PACKED integers; DataPage V1 or V2, pages that begin
 * inside a row included. Anything else — another encoding, levels that are not rows of numbers, a
 * page that does not parse — gives undefined, and the caller reads the rows through hyparquet,
 * which names the damage.
 *
 * `pages`: the chunk's pages where known (a walk, a stream, a sidecar's table); else its offset
 * index, else the chunk is read whole. Reads only the pages holding the rows, and the
 * dictionary page when one of them needs it. The matrix is float32 (as searched), or with
 * `asStored` float64 for a DOUBLE column (its values as stored; the other types are exact in float32).
 */
export async function readListVectors(
  source: AsyncBuffer,
  metadata: FileMetaData,
  column: EmbeddingColumn,
  g: number,
  groupStart: number,
  rowStart: number,
  rowEnd: number,
  dim: number,
  pages: PageLocation[] | undefined,
  file?: string,
  asStored = false,
): Promise<VectorMatrix<Float32Array | Float64Array> | undefined> {
  const m = metadata.row_groups[g]?.columns[column.leafIndex]?.meta_data
  if (column.kind !== 'list' || !m || rowEnd <= rowStart) return undefined
  const schemaPath = [{ element: metadata.schema[0] }, ...column.leafPath] as Parameters<typeof getMaxDefinitionLevel>[0]
  if (getMaxRepetitionLevel(schemaPath) !== 1) return undefined
  // (the list node adds a level where it may be null, its repeated node one more: that of a row that is a list)
  const top = column.leafPath[0]?.element.repetition_type === 'OPTIONAL' ? 1 : 0
  const definitions = { full: getMaxDefinitionLevel(schemaPath), list: top + 1, top }
  try {
    const span = await pagesHolding(source, metadata, g, column.leafIndex, rowStart - groupStart, rowEnd - groupStart, pages)
    if (!span) return undefined
    const { lo, hi, entryRow } = span
    const bytes = new Uint8Array(await source.slice(lo, hi))
    const Typed = asStored && column.element === 'DOUBLE' ? Float64Array : Float32Array
    const decoder = new ListDecoder(column, definitions, m, file, Typed)
    const from = rowStart - groupStart
    const to = rowEnd - groupStart
    return await decoder.rows(bytes, lo, entryRow, from, to, dim, () => dictionary(source, metadata, g, column, decoder))
  } catch {
    // (whatever did not parse, hyparquet reads and names)
    return undefined
  }
}

/**
 * The bytes [lo, hi) of the pages of chunk `leaf` of row group `g` holding its rows [from, to)
 * (counted from the group's first), the first of them beginning row `entryRow`: from the last
 * entry beginning at or before `from` to the first beginning at or after `to`, of `pages` where
 * known, else of the chunk's offset index; the whole chunk where neither is. Undefined where
 * the entries do not reach back to `from` or lie outside the file.
 */
export async function pagesHolding(
  source: AsyncBuffer,
  metadata: FileMetaData,
  g: number,
  leaf: number,
  from: number,
  to: number,
  pages: PageLocation[] | undefined,
): Promise<{ lo: number; hi: number; entryRow: number } | undefined> {
  const m = metadata.row_groups[g]?.columns[leaf]?.meta_data
  if (!m) return undefined
  const chunkStart = Number(m.dictionary_page_offset ?? m.data_page_offset)
  const chunkEnd = chunkStart + Number(m.total_compressed_size)
  const located = pages ?? (await offsetIndex(source, metadata, g, leaf))
  let entryRow = 0
  let lo = chunkStart
  let hi = chunkEnd
  if (located?.length) {
    let first = 0
    while (first + 1 < located.length && Number(located[first + 1]?.first_row_index) <= from) first++
    let end = first + 1
    while (end < located.length && Number(located[end]?.first_row_index) < to) end++
    entryRow = Number(located[first]?.first_row_index)
    lo = Number(located[first]?.offset)
    hi = end < located.length ? Number(located[end]?.offset) : chunkEnd
    if (entryRow > from) return undefined
  }
  return lo >= 0 && hi > lo && hi <= source.byteLength ? { lo, hi, entryRow } : undefined
}

/** A chunk's offset index (hyparquet's reader), read once per footer: a block read fetches it not again. */
export async function offsetIndex(
  source: AsyncBuffer,
  metadata: FileMetaData,
  g: number,
  leaf: number,
): Promise<PageLocation[] | undefined> {
  const chunk = metadata.row_groups[g]?.columns[leaf]
  if (chunk?.offset_index_offset === undefined || chunk.offset_index_length === undefined) return undefined
  return remembered(metadata, `offsets ${g}:${leaf}`, async () => {
    const start = Number(chunk.offset_index_offset)
    const bytes = await source.slice(start, start + Number(chunk.offset_index_length))
    return readOffsetIndex({ view: new DataView(bytes), offset: 0 }).page_locations
  })
}

/** The chunk's dictionary as numbers (float64: a DOUBLE kept as stored), read once per footer. */
async function dictionary(
  source: AsyncBuffer,
  metadata: FileMetaData,
  g: number,
  column: EmbeddingColumn,
  decoder: ListDecoder,
): Promise<Float64Array> {
  return remembered(metadata, `dictionary ${g}:${column.leafIndex}`, async () => {
    const { header, body } = await dictionaryPage(source, metadata, g, column.leafIndex, decoder.file, column.name)
    return decoder.dictionaryPage(header, body)
  })
}

/**
 * Chunk `leaf` of row group `g`'s DICTIONARY_PAGE (before its first data page): header and
 * compressed body, fetched once per footer; an error naming the chunk where there is none.
 */
export async function dictionaryPage(
  source: AsyncBuffer,
  metadata: FileMetaData,
  g: number,
  leaf: number,
  file: string | undefined,
  column: string,
): Promise<{ header: PageHeader; body: Uint8Array }> {
  const m = metadata.row_groups[g]?.columns[leaf]?.meta_data
  const start = Number(m?.dictionary_page_offset ?? Number.NaN)
  const end = Number(m?.data_page_offset)
  if (!(start >= 0 && end > start && end <= source.byteLength))
    throw new ParquetSeekError('a dictionary-encoded page, and no dictionary page before the first data page', { file, column })
  const bytes = await remembered(metadata, `dictionary page ${g}:${leaf}`, async () => new Uint8Array(await source.slice(start, end)))
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }
  const header = parquetHeader(reader)
  checkPageHeader(header, { file, offset: start })
  if (header.type !== 'DICTIONARY_PAGE')
    throw new ParquetSeekError(`a dictionary-encoded page, and a ${header.type} where its dictionary page should be`, {
      file,
      column,
      offset: start,
    })
  return { header, body: bytes.subarray(reader.offset, reader.offset + header.compressed_page_size) }
}

const memo = new WeakMap<FileMetaData, Map<string, Promise<unknown>>>()
/** `make()`'s promise, made once per footer and key (one that fails is made again next time). */
function remembered<T>(metadata: FileMetaData, key: string, make: () => Promise<T>): Promise<T> {
  const byKey = memo.get(metadata) ?? new Map<string, Promise<unknown>>()
  memo.set(metadata, byKey)
  let made = byKey.get(key) as Promise<T> | undefined
  if (!made) {
    made = make()
    byKey.set(key, made)
    // (a failed read is tried again by the next block, not remembered)
    made.catch(() => byKey.delete(key))
  }
  return made
}

/**
 * A data page decoded: `count` levels, of which `present` (at the full definition level) have
 * values; `values` undefined where they are dictionary indices (in ListDecoder's `indices`);
 */
interface PageLevels {
  repetition: Uint8Array
  definition: Uint8Array
  count: number
  present: number
  values?: ArrayLike<number>
}

/** Thrown where the rows are not the common case (readListVectors gives undefined). */
class NotPlain extends Error {}

/** Levels and values of one chunk's pages, decoded into scratch arrays reused page after page. */
class ListDecoder {
  private levels = new Uint8Array(0)
  private definitionLevels = new Uint8Array(0)
  private indices = new Int32Array(0)
  private floats = new Float32Array(0)
  private gathered = new Float64Array(0)

  constructor(
    private readonly column: EmbeddingColumn,
    /** Definition levels: of a value (`full`), of a row that is a list (`list`), of a row that is not null (`top`). */
    private readonly definitions: { full: number; list: number; top: number },
    private readonly m: ColumnMetaData,
    readonly file: string | undefined,
    /** The matrix's type: Float32Array, or Float64Array to keep a DOUBLE's values as stored. */
    private readonly Typed: Float32ArrayConstructor | Float64ArrayConstructor,
  ) {}

  /**
   * Rows [from, to) of the row group from `bytes` (at file offset `at`), whose first page begins
   * row `entryRow`, as a matrix and the rows that are no vector; undefined where the levels do
   * not describe rows of numbers (or the bytes end before the last row).
   */
  async rows(
    bytes: Uint8Array,
    at: number,
    entryRow: number,
    from: number,
    to: number,
    dimKnown: number,
    loadDictionary: () => Promise<Float64Array>,
  ): Promise<VectorMatrix<Float32Array | Float64Array> | undefined> {
    const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }
    const { full, list, top } = this.definitions
    const Typed = this.Typed
    let dim = dimKnown
    // (made once the length is known: at once when it is given)
    let out = dim ? new Typed((to - from) * dim) : undefined
    const invalid: InvalidVector[] = []
    let dict: Float64Array | undefined
    let row = entryRow - 1
    // The row being read: `n` values so far, written straight into its slots of the matrix while
    // they fit (`direct`: the matrix exists, its length known, when the row began), the rest to
    // `spill`; which were null (`nullAt`); whether it is a list at all. A DOUBLE past float32's
    // range becomes Infinity in the matrix: the first is kept as stored, for the reason.
    let n = 0
    let o = 0
    let direct = false
    const spill: number[] = []
    const nullAt: number[] = []
    let wide: { at: number; value: number } | undefined
    const doubles = this.column.element === 'DOUBLE'
    let shape: 'list' | 'null' | 'empty' = 'list'
    // row `row` (asked for) ends: it stays in the matrix when it is a full, finite vector, else why not
    const finish = () => {
      // (the first row that is a list gives the length, as checkVector's callers take it)
      if (shape === 'list' && !dim) dim = n
      const whole = shape === 'list' && nullAt.length === 0 && n === dim
      if (whole && !direct) {
        out ??= new Typed((to - from) * dim)
        o = (row - from) * dim
        out.set(spill, o)
      }
      if (whole && !wide) {
        const m = out as Float32Array | Float64Array
        let squared = 0
        for (let j = o; j < o + dim; j++) squared += (m[j] as number) * (m[j] as number)
        // (NaN and ±Infinity make the sum NaN or Infinity)
        if (Number.isFinite(squared) && !overlong(squared)) return
      }
      const stored = direct ? [...(out as Float32Array | Float64Array).subarray(o, o + Math.min(n, dim)), ...spill] : [...spill]
      if (direct) (out as Float32Array | Float64Array).fill(0, o, o + dim)
      if (wide) stored[wide.at] = wide.value
      const value: Array<number | null> | null = shape === 'null' ? null : shape === 'empty' ? [] : stored
      for (const j of nullAt) (value as Array<number | null>)[j] = null
      invalid.push({ at: row - from, value, reason: checkVector(value, dim, 'list') ?? 'not a vector' })
    }
    let done = false
    while (reader.offset < bytes.length && !done) {
      const pageAt = at + reader.offset
      const header = parquetHeader(reader)
      checkPageHeader(header, { file: this.file, offset: pageAt })
      const body = bytes.subarray(reader.offset, reader.offset + header.compressed_page_size)
      reader.offset += header.compressed_page_size
      if (body.length !== header.compressed_page_size) return undefined
      if (header.type === 'DICTIONARY_PAGE') {
        dict = this.dictionaryPage(header, body)
        continue
      }
      if (header.type !== 'DATA_PAGE' && header.type !== 'DATA_PAGE_V2') continue
      const page = this.dataPage(header, body, pageAt)
      if (!page) return undefined
      const { repetition, definition, count, present } = page
      let values = page.values
      if (!values) {
        dict ??= await loadDictionary()
        values = this.gather(dict, present)
      }
      // (values are stored for levels at the full definition only: `v` counts them)
      for (let k = 0, v = 0; k < count; k++) {
        const d = definition[k] as number
        if (repetition[k] === 0) {
          if (row >= from) finish()
          row++
          if (row >= to) {
            done = true
            break
          }
          n = 0
          spill.length = 0
          nullAt.length = 0
          wide = undefined
          direct = out !== undefined
          if (direct) o = (row - from) * dim
          shape = d >= list ? 'list' : d < top ? 'null' : 'empty'
        } else if (d >= list !== (shape === 'list')) {
          // a value after a null or empty row, or a level below the list inside one: not Dremel's
          // rows — except DuckDB's NULL of a fixed-size array (FLOAT[n]), n levels below the list
          if (!(shape === 'null' && d < list)) return undefined
        }
        if (d === full) {
          if (row >= from) {
            const x = values[v] as number
            if (direct && n < dim) (out as Float32Array | Float64Array)[o + n] = x
            else spill.push(x)
            if (doubles && !wide && !(Math.abs(x) <= F32_MAX)) wide = { at: n, value: x }
            n++
          }
          v++
        } else if (d >= list && row >= from) {
          nullAt.push(n)
          if (!(direct && n < dim)) spill.push(0)
          n++
        }
      }
    }
    // every row asked for: the bytes may end with the last
    if (!done) {
      if (row !== to - 1) return undefined
      finish()
    }
    return { dim, data: out ?? new Typed((to - from) * dim), invalid }
  }

  /** A data page's levels and values (PageLevels). */
  private dataPage(header: PageHeader, body: Uint8Array, pageAt: number): PageLevels | undefined {
    const where = { file: this.file, offset: pageAt }
    const v2 = header.data_page_header_v2
    const v1 = header.data_page_header as DataPageHeader | undefined
    const count = v2?.num_values ?? v1?.num_values ?? 0
    let repetitionBytes: Uint8Array
    let definitionBytes: Uint8Array
    let values: Uint8Array
    const encoding = v2?.encoding ?? v1?.encoding
    if (v2) {
      const r = v2.repetition_levels_byte_length
      const d = v2.definition_levels_byte_length
      repetitionBytes = body.subarray(0, r)
      definitionBytes = body.subarray(r, r + d)
      const compressed = body.subarray(r + d)
      const size = header.uncompressed_page_size - r - d
      values = v2.is_compressed === false ? compressed : decompressPage(compressed, size, this.m.codec, codecs)
    } else {
      const page = decompressPage(body, header.uncompressed_page_size, this.m.codec, codecs)
      const view = new DataView(page.buffer, page.byteOffset, page.byteLength)
      const r = view.getUint32(0, true)
      repetitionBytes = page.subarray(4, 4 + r)
      const d = view.getUint32(4 + r, true)
      definitionBytes = page.subarray(8 + r, 8 + r + d)
      values = page.subarray(8 + r + d)
    }
    const repetition = this.decodeLevels(repetitionBytes, 1, count, 'repetition levels', where, 'levels')
    const definition = this.decodeLevels(
      definitionBytes,
      bitWidth(this.definitions.full),
      count,
      'definition levels',
      where,
      'definitionLevels',
    )
    let present = 0
    for (let k = 0; k < count; k++) if (definition[k] === this.definitions.full) present++
    const page = { repetition, definition, count, present }
    if (encoding === 'PLAIN_DICTIONARY' || encoding === 'RLE_DICTIONARY') {
      const width = values[0] ?? 0
      if (width > 24) return undefined
      if (this.indices.length < present) this.indices = new Int32Array(present)
      const indices = this.indices.subarray(0, present)
      checkLevels(values, 1, values.length - 1, width, present, 'dictionary indices', where)
      readRleBitPackedHybrid(
        { view: new DataView(values.buffer, values.byteOffset, values.byteLength), offset: 1 },
        width,
        indices,
        values.length - 1,
      )
      return { ...page, values: undefined }
    }
    const element = this.column.element
    if (encoding === 'DELTA_BINARY_PACKED' && element !== 'FLOAT' && element !== 'DOUBLE' && element !== 'FLOAT16') {
      const ints = new Int32Array(present)
      deltaBinaryUnpack({ view: new DataView(values.buffer, values.byteOffset, values.byteLength), offset: 0 }, present, ints)
      return { ...page, values: ints }
    }
    if (encoding !== 'PLAIN') return undefined
    return { ...page, values: this.plain(values, present) }
  }

  /** A DICTIONARY_PAGE's values as numbers (float64: a DOUBLE kept as stored). */
  dictionaryPage(header: PageHeader, body: Uint8Array): Float64Array {
    const count = header.dictionary_page_header?.num_values ?? 0
    const bytes = decompressPage(body, header.uncompressed_page_size, this.m.codec, codecs)
    return Float64Array.from(this.plain(bytes, count))
  }

  /** `count` PLAIN values of the column's element type from `bytes`, as numbers (a view where it can be). */
  private plain(bytes: Uint8Array, count: number): ArrayLike<number> {
    const element = this.column.element
    const size = element === 'DOUBLE' ? 8 : element === 'FLOAT16' ? 2 : 4
    if (bytes.length < count * size || !LITTLE_ENDIAN) throw new NotPlain()
    // (a typed view needs its element's alignment: copied where the values sit at an odd offset)
    const aligned = bytes.byteOffset % size ? bytes.slice(0, count * size) : bytes
    const { buffer, byteOffset } = aligned
    if (element === 'FLOAT') return new Float32Array(buffer, byteOffset, count)
    if (element === 'DOUBLE') return new Float64Array(buffer, byteOffset, count)
    if (element === 'FLOAT16') {
      const half = halfFloats()
      const bits = new Uint16Array(buffer, byteOffset, count)
      const out = this.scratchFloats(count)
      for (let k = 0; k < count; k++) out[k] = half[bits[k] as number] as number
      return out
    }
    return new Int32Array(buffer, byteOffset, count)
  }

  /** The page's dictionary indices (dataPage) looked up in `dict`. */
  private gather(dict: Float64Array, count: number): Float64Array {
    if (this.gathered.length < count) this.gathered = new Float64Array(count)
    const out = this.gathered.subarray(0, count)
    const indices = this.indices
    for (let k = 0; k < count; k++) {
      const v = dict[indices[k] as number]
      if (v === undefined) throw new NotPlain()
      out[k] = v
    }
    return out
  }

  private scratchFloats(count: number): Float32Array {
    if (this.floats.length < count) this.floats = new Float32Array(count)
    return this.floats.subarray(0, count)
  }

  /** RLE/bit-packed levels (checked first: a corrupt run must not spin) into a reused array. */
  private decodeLevels(
    bytes: Uint8Array,
    width: number,
    count: number,
    what: string,
    where: { file?: string; offset: number },
    into: 'levels' | 'definitionLevels',
  ): Uint8Array {
    if (this[into].length < count) this[into] = new Uint8Array(count)
    const out = this[into].subarray(0, count)
    checkLevels(bytes, 0, bytes.length, width, count, what, where)
    readRleBitPackedHybrid({ view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }, width, out, bytes.length)
    return out
  }
}

const bitWidth = (max: number) => 32 - Math.clz32(max)

/** The largest finite float32. */
const F32_MAX = 3.4028234663852886e38
