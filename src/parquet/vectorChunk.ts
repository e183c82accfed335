import type { ColumnChunk, OffsetIndex, SchemaTree } from 'hyparquet'
import { ByteWriter } from 'hyparquet-writer'
import { writeDataPageV2, writePageHeader } from 'hyparquet-writer/src/datapage.js'
import { deltaBinaryPack } from 'hyparquet-writer/src/delta.js'
import { encodeNestedValues } from 'hyparquet-writer/src/dremel.js'
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js'
import { unconvert } from 'hyparquet-writer/src/unconvert.js'
import { pageEncoding, type VectorElement, vectorElement } from './embedding.js'
import { lz4Compress } from './lz4.js'
import { halfBits, LITTLE_ENDIAN } from './numbers.js'

type PageLocation = OffsetIndex['page_locations'][number]
type Levels = ReturnType<typeof encodeNestedValues>
/** One row's page: its values and levels. */
type RowPage = Omit<Levels, 'maxDefinitionLevel'>

/**
 * Each row's page levels for a 3-level LIST of a vector's numbers (root › list › repeated ›
 * element, the shape of nearly every embedding column) — what encodeNestedValues gives, cut at
 * the rows (tested) — built row by row, a full vector's levels shared between rows:
 * encodeNestedValues walks the schema for every number, and the chunk-wide arrays it fills were
 * 40 % of writing 100k × 100-d vectors. Other shapes: undefined.
 */
export function listPages(
  tree: SchemaTree[],
  rows: unknown[],
): { pages: RowPage[]; maxDefinitionLevel: number; full?: ReadonlySet<RowPage['definitionLevels']> } | undefined {
  if (tree.length !== 4) return undefined
  const [, top, repeated, leaf] = tree.map((n) => n.element)
  const listLike = top?.converted_type === 'LIST' || top?.logical_type?.type === 'LIST'
  if (!listLike || repeated?.repetition_type !== 'REPEATED' || top?.repetition_type === 'REPEATED') return undefined
  if (!leaf || !vectorElement(leaf) || leaf.repetition_type === 'REPEATED') return undefined
  const topDef = top.repetition_type === 'OPTIONAL' ? 1 : 0
  const leafOptional = leaf.repetition_type === 'OPTIONAL'
  const maxDefinitionLevel = topDef + 1 + (leafOptional ? 1 : 0)
  // levels of a vector of `length` numbers, none null: the same for every such row
  const full = new Map<number, { definitionLevels: number[]; repetitionLevels: number[] }>()
  const fullLevels = (length: number) => {
    let f = full.get(length)
    if (!f) {
      f = {
        definitionLevels: new Array<number>(length).fill(maxDefinitionLevel),
        repetitionLevels: Array.from({ length }, (_, i) => (i === 0 ? 0 : 1)),
      }
      full.set(length, f)
    }
    return f
  }
  const pages = rows.map((row): RowPage => {
    if (row === null || row === undefined) {
      if (!topDef) throw new Error('parquet required value is undefined')
      return { values: [undefined], definitionLevels: [0], repetitionLevels: [0] }
    }
    // a typed row (a clustered build's vectors, permute.ts) holds numbers only
    if (isTypedRow(row))
      return row.length
        ? { values: row, ...fullLevels(row.length) }
        : { values: [undefined], definitionLevels: [topDef], repetitionLevels: [0] }
    if (!Array.isArray(row)) throw new Error(`parquet repeated field ${repeated.name} must be an array`)
    if (!row.length) return { values: [undefined], definitionLevels: [topDef], repetitionLevels: [0] }
    let nulls = false
    for (const x of row) if (x === null || x === undefined) nulls = true
    if (!nulls) return { values: row, ...fullLevels(row.length) }
    if (!leafOptional) throw new Error('parquet required value is undefined')
    return {
      values: row,
      definitionLevels: row.map((x) => (x === null || x === undefined ? topDef + 1 : maxDefinitionLevel)),
      repetitionLevels: row.map((_, i) => (i === 0 ? 0 : 1)),
    }
  })
  // a full row's page shares its levels arrays with every full row of its length
  return { pages, maxDefinitionLevel, full: new Set([...full.values()].map((f) => f.definitionLevels)) }
}

const isTypedRow = (row: unknown): row is Float32Array | Float64Array => row instanceof Float32Array || row instanceof Float64Array

/** encodeNestedValues' levels for the whole chunk, cut into one page per row. */
function slicedPages(tree: SchemaTree[], rows: unknown[]): { pages: RowPage[]; maxDefinitionLevel: number } {
  const plain = rows.map((row) => (isTypedRow(row) ? Array.from(row) : row))
  const data = encodeNestedValues(tree, plain as never)
  const levels = data.definitionLevels.length || data.values.length
  const pages: RowPage[] = []
  for (let i = 0; i < levels; ) {
    let end = i + 1
    if (data.repetitionLevels.length) while (end < levels && data.repetitionLevels[end] !== 0) end++
    pages.push({
      values: data.values.slice(i, end),
      definitionLevels: data.definitionLevels.slice(i, end),
      repetitionLevels: data.repetitionLevels.slice(i, end),
    })
    i = end
  }
  return { pages, maxDefinitionLevel: data.maxDefinitionLevel }
}

/**
 * Writes one row group's embedding column chunk as exactly one DataPage V2 per row (a null row
 * gets its own page too), values PLAIN, LZ4_RAW, no statistics or dictionary. Pages are cut
 * here rather than by hyparquet-writer's size-based splitter, which merges consecutive nulls.
 * `tree` runs from the schema root to the leaf; `writer.offset` must be the absolute file offset.
 */
export function writeVectorChunk(
  writer: ByteWriter,
  tree: SchemaTree[],
  rows: unknown[],
): { chunk: ColumnChunk; locations: PageLocation[] } {
  const chunk = new VectorChunkWriter(tree)
  chunk.add(writer, rows)
  return chunk.finish()
}

/**
 * writeVectorChunk with the rows handed over in blocks, each written at the offset of the
 * writer it comes with (the blocks one after another in the file): a row group of a million
 * rows is rewritten without holding all its values at once.
 */
export class VectorChunkWriter {
  private readonly schemaPath: SchemaTree['element'][]
  private readonly element: SchemaTree['element']
  private readonly values: VectorElement | undefined
  private readonly encoding: ReturnType<typeof pageEncoding> | 'PLAIN'
  private readonly column: Parameters<typeof writeDataPageV2>[0]['column']
  private readonly locations: PageLocation[] = []
  private start = -1
  private end = 0
  private rows = 0
  private uncompressed = 0
  private levels = 0

  constructor(private readonly tree: SchemaTree[]) {
    this.schemaPath = tree.map((n) => n.element)
    const element = this.schemaPath.at(-1)
    if (!element?.type) throw new Error('embedding leaf has no physical type')
    this.element = element
    this.column = {
      columnName: this.schemaPath
        .slice(1)
        .map((s) => s.name)
        .join('.'),
      element,
      schemaPath: this.schemaPath,
      codec: 'LZ4_RAW' as const,
      compressors: { LZ4_RAW: lz4Compress },
      stats: false,
      pageSize: 0,
      columnIndex: false,
      offsetIndex: true,
    }
    this.values = vectorElement(element)
    this.encoding = this.values ? pageEncoding(this.values) : 'PLAIN'
  }

  /** The next rows' pages, at `writer.offset` (where the previous block ended). */
  add(writer: ByteWriter, rows: unknown[]): void {
    const { element, values, encoding, column } = this
    if (this.start < 0) this.start = writer.offset
    else if (writer.offset !== this.end) throw new Error(`a block of the chunk at ${writer.offset}, not where the last ended (${this.end})`)
    const { pages, maxDefinitionLevel, full } = listPages(this.tree, rows) ?? { ...slicedPages(this.tree, rows), full: undefined }
    // a full row's levels are those of every full row of its length: encoded once
    const levelsOf = new Map<RowPage['definitionLevels'], FullLevels>()
    const maxRepetitionLevel = this.schemaPath.filter((e) => e.repetition_type === 'REPEATED').length
    const fullLevels = (page: RowPage) => {
      let l = levelsOf.get(page.definitionLevels)
      if (!l) {
        l = encodeLevels(page, maxDefinitionLevel, maxRepetitionLevel)
        levelsOf.set(page.definitionLevels, l)
      }
      return l
    }
    for (const [row, page] of pages.entries()) {
      this.levels += page.definitionLevels.length || page.values.length
      const pageStart = writer.offset
      this.uncompressed += full?.has(page.definitionLevels)
        ? writeFullPage(writer, fullLevels(page), page.values as ArrayLike<number>, values as VectorElement)
        : // values as the library's writeColumn hands them on (half floats as their bytes)
          writeDataPageV2({
            writer,
            column,
            encoding,
            pageData: { ...page, values: unconvert(element, page.values), maxDefinitionLevel },
          })
      this.locations.push({
        offset: BigInt(pageStart),
        compressed_page_size: writer.offset - pageStart,
        first_row_index: BigInt(this.rows + row),
      })
    }
    this.rows += pages.length
    this.end = writer.offset
  }

  finish(): { chunk: ColumnChunk; locations: PageLocation[] } {
    const { element, encoding, start, end, locations } = this
    return {
      chunk: {
        file_offset: BigInt(start),
        meta_data: {
          type: element.type as NonNullable<SchemaTree['element']['type']>,
          encodings: [encoding, 'RLE'],
          path_in_schema: this.schemaPath.slice(1).map((s) => s.name),
          codec: 'LZ4_RAW',
          num_values: BigInt(this.levels),
          total_compressed_size: BigInt(end - start),
          total_uncompressed_size: BigInt(this.uncompressed),
          data_page_offset: BigInt(start),
          encoding_stats: [{ page_type: 'DATA_PAGE_V2', encoding, count: locations.length }],
        },
      },
      locations,
    }
  }
}

/** A row's integers DELTA_BINARY_PACKED as INT32 (hyparquet-writer's encoder). */
function deltaBytes(values: ArrayLike<number>): Uint8Array {
  const out = new ByteWriter()
  deltaBinaryPack(out, values as number[], 'INT32')
  return new Uint8Array(out.getBytes())
}

/** A row's floats as a PLAIN page of `element` stores them (little-endian; half floats in 2 bytes). */
function plainBytes(values: ArrayLike<number>, element: VectorElement): Uint8Array {
  if (element === 'FLOAT16') {
    const data = new Uint8Array(2 * values.length)
    for (let i = 0; i < values.length; i++) {
      const h = halfBits(values[i] as number)
      data[2 * i] = h & 255
      data[2 * i + 1] = h >> 8
    }
    return data
  }
  const double = element === 'DOUBLE'
  const typed = double
    ? values instanceof Float64Array
      ? values
      : Float64Array.from(values)
    : values instanceof Float32Array
      ? values
      : Float32Array.from(values)
  if (LITTLE_ENDIAN) return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength)
  const out = new DataView(new ArrayBuffer(typed.byteLength))
  for (let i = 0; i < typed.length; i++)
    double ? out.setFloat64(8 * i, typed[i] as number, true) : out.setFloat32(4 * i, typed[i] as number, true)
  return new Uint8Array(out.buffer)
}

/** A full row's levels as writeDataPageV2 writes them (repetition, then definition; RLE/bit-packed hybrid, no length prefix). */
interface FullLevels {
  bytes: Uint8Array
  count: number
  repetitionBytes: number
  definitionBytes: number
}

function encodeLevels(page: RowPage, maxDefinitionLevel: number, maxRepetitionLevel: number): FullLevels {
  const writer = new ByteWriter()
  const repetitionBytes = maxRepetitionLevel
    ? writeRleBitPackedHybrid(writer, page.repetitionLevels, Math.ceil(Math.log2(maxRepetitionLevel + 1)))
    : 0
  const definitionBytes = maxDefinitionLevel
    ? writeRleBitPackedHybrid(writer, page.definitionLevels, Math.ceil(Math.log2(maxDefinitionLevel + 1)))
    : 0
  return { bytes: writer.getBytes().slice(), count: page.definitionLevels.length, repetitionBytes, definitionBytes }
}

/**
 * One full row's DataPage V2 — the bytes writeDataPageV2 writes for it (test/roundtrip.test.ts
 * compares them), without its per-number PLAIN writer and per-page level encoding: a float row's
 * values go in as their bytes. Returns what writeDataPageV2 returns (header + uncompressed body).
 */
function writeFullPage(writer: ByteWriter, levels: FullLevels, values: ArrayLike<number>, element: VectorElement): number {
  const encoding = pageEncoding(element)
  const data = encoding === 'PLAIN' ? plainBytes(values, element) : deltaBytes(values)
  const compressed = lz4Compress(data)
  const headerStart = writer.offset
  writePageHeader(writer, {
    type: 'DATA_PAGE_V2',
    uncompressed_page_size: levels.bytes.length + data.length,
    compressed_page_size: levels.bytes.length + compressed.length,
    data_page_header_v2: {
      num_values: levels.count,
      num_nulls: 0,
      num_rows: 1,
      encoding,
      definition_levels_byte_length: levels.definitionBytes,
      repetition_levels_byte_length: levels.repetitionBytes,
      is_compressed: true,
    },
  })
  const headerSize = writer.offset - headerStart
  writer.appendBytes(levels.bytes)
  writer.appendBytes(compressed)
  return headerSize + levels.bytes.length + data.length
}
