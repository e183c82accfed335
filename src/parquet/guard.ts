import type { AsyncBuffer, CompressionCodec, FileMetaData, PageHeader } from 'hyparquet'
import { parquetHeader } from 'hyparquet/src/column.js'
import { decompressPage } from 'hyparquet/src/datapage.js'
import { getMaxDefinitionLevel, getMaxRepetitionLevel, getSchemaPath } from 'hyparquet/src/schema.js'
import { type ErrorContext, ParquetSeekError } from '../errors.js'
import { codecs } from './codecs.js'

/** Largest page body we let a decoder allocate (pages are KiB to a few MiB in practice). */
export const MAX_PAGE_BYTES = 256 << 20
/** Values a page may claim beyond 8 per byte of its decoded size (runs of nulls cost ~nothing). */
const SPARE_VALUES = 4 << 20

/**
 * Checks a page header's sizes and counts against caps before a decoder trusts them: hyparquet
 * allocates `num_values` slots and fills runs up to that count, so a corrupt count (say 2³¹)
 * would hang the tab rather than fail. Bounds: body ≤ 256 MiB, num_values ≤ 8 per decoded byte
 * + 4 Mi (bit-packed booleans are 8 per byte; runs of nulls are cheap but pages hold far fewer).
 * Corrupt bytes can also change a field's thrift type (an i32 read as an i64 is a BigInt), which
 * arithmetic on it would throw as a TypeError: the sizes and a V2 header's counts must be integers.
 */
export function checkPageHeader(header: PageHeader, where: ErrorContext & { offset: number }): void {
  const fail = (what: string) => {
    throw new ParquetSeekError(`corrupt page header: ${what}`, { ...where, section: 'page header' })
  }
  const { uncompressed_page_size: u, compressed_page_size: c } = header
  if (!Number.isInteger(u) || u < 0 || u > MAX_PAGE_BYTES) fail(`uncompressed size ${u}`)
  if (!Number.isInteger(c) || c < 0 || c > MAX_PAGE_BYTES) fail(`compressed size ${c}`)
  const count = header.data_page_header?.num_values ?? header.data_page_header_v2?.num_values ?? header.dictionary_page_header?.num_values
  if (count !== undefined && (!Number.isInteger(count) || count < 0 || count > 8 * u + SPARE_VALUES))
    fail(`${count} values in a page of ${u} bytes`)
  const v2 = header.data_page_header_v2
  if (v2) {
    for (const [name, v] of Object.entries({
      num_values: v2.num_values,
      num_nulls: v2.num_nulls,
      num_rows: v2.num_rows,
      definition_levels_byte_length: v2.definition_levels_byte_length,
      repetition_levels_byte_length: v2.repetition_levels_byte_length,
    }))
      if (typeof v !== 'number' || !Number.isInteger(v))
        fail(`DataPage V2 ${name} is ${typeof v === 'bigint' ? `the 64-bit ${v}` : String(v)}, not a 32-bit integer`)
    const levels = v2.definition_levels_byte_length + v2.repetition_levels_byte_length
    if (!(levels >= 0) || levels > c || v2.num_rows < 0 || v2.num_rows > v2.num_values || v2.num_nulls > v2.num_values)
      fail(`levels of ${levels} bytes, ${v2.num_rows} rows, ${v2.num_nulls} nulls, ${v2.num_values} values in ${c} bytes`)
  }
}

/**
 * Walks an RLE/bit-packed hybrid level stream and checks no RLE run claims more values than the
 * page holds: hyparquet fills RLE runs without clamping, so one corrupt run length (say 2³¹)
 * would grow an array for minutes instead of failing.
 */
export function checkLevels(
  bytes: Uint8Array,
  start: number,
  length: number,
  bitWidth: number,
  values: number,
  what: string,
  where: { file?: string; offset: number },
) {
  const fail = (why: string): never => {
    throw new ParquetSeekError(`corrupt ${what}: ${why}`, { file: where.file, section: 'page levels', offset: where.offset })
  }
  const end = start + length
  if (end > bytes.length) fail(`${length} bytes of levels in a ${bytes.length}-byte page`)
  const width = (bitWidth + 7) >> 3
  let at = start
  let seen = 0
  while (seen < values && at < end) {
    let header = 0
    let shift = 0
    for (;;) {
      if (at >= end || shift > 28) fail('run header past the levels')
      const b = bytes[at++] as number
      header += (b & 0x7f) * 2 ** shift
      if (b < 0x80) break
      shift += 7
    }
    if (header % 2 === 1) {
      // bit-packed: its values are in the bytes (bounded by the page); writers may pad the last
      // run past the page's count (DuckDB does), so only RLE runs are bounded by it
      const groups = Math.floor(header / 2)
      at += groups * bitWidth
      seen += groups * 8
    } else {
      const count = Math.floor(header / 2)
      if (seen + count > values) fail(`a run of ${count} values where ${values - seen} remain`)
      at += width
      seen += count
    }
  }
  // hyparquet reads runs until it has every value, past the section's end if it must (into the
  // values, then anything): a stream that ends short is corrupt
  if (seen < values) fail(`the levels end after ${seen} of ${values} values`)
}

/**
 * A source for hyparquet page reads: every slice that is exactly one page (header + body, as
 * reads through the offset index are) has its header checked before the bytes are handed over.
 */
export function guardPages(source: AsyncBuffer, metadata: FileMetaData, file?: string): AsyncBuffer {
  const chunks = chunkShapes(metadata)
  const chunkAt = (offset: number) => chunks.find((c) => offset >= c.start && offset < c.end)
  return {
    byteLength: source.byteLength,
    async slice(start, end = source.byteLength) {
      const buf = await source.slice(start, end)
      if (chunkAt(start)) checkPages(new Uint8Array(buf), start, chunkAt, file)
      return buf
    },
  }
}

interface ChunkShape {
  rep: number
  def: number
  codec: CompressionCodec
}

/** Column chunk byte ranges → bit widths of their levels and codec; once per footer. */
const shapes = new WeakMap<FileMetaData, Array<ChunkShape & { start: number; end: number }>>()
function chunkShapes(metadata: FileMetaData): Array<ChunkShape & { start: number; end: number }> {
  let found = shapes.get(metadata)
  if (!found) {
    found = metadata.row_groups.flatMap((group) =>
      group.columns.flatMap((chunk) => {
        const m = chunk.meta_data
        if (!m) return []
        const path = getSchemaPath(metadata.schema, m.path_in_schema)
        const start = Number(m.dictionary_page_offset ?? m.data_page_offset)
        return [
          {
            start,
            end: start + Number(m.total_compressed_size),
            rep: bitWidth(getMaxRepetitionLevel(path)),
            def: bitWidth(getMaxDefinitionLevel(path)),
            codec: m.codec,
          },
        ]
      }),
    )
    shapes.set(metadata, found)
  }
  return found
}

/**
 * Checks every page in a slice that starts inside a column chunk (one page for a result read,
 * a whole chunk for a build's read, several chunks where hyparquet reads a struct's leaves at
 * once): headers against the caps, and level runs, by the shape of the chunk each page is in —
 * DataPage V2's as stored, V1's after decompressing the page once more (they sit inside the
 * compressed body). A slice that does not start with a page header (an index, a footer) is left alone.
 */
function checkPages(
  bytes: Uint8Array,
  fileOffset: number,
  chunkAt: (offset: number) => (ChunkShape & { end: number }) | undefined,
  file: string | undefined,
) {
  let pos = 0
  let chunk = chunkAt(fileOffset) as ChunkShape & { end: number }
  while (pos < bytes.length) {
    // (looked up again only once a page lies past the chunk's end)
    if (fileOffset + pos >= chunk.end) chunk = chunkAt(fileOffset + pos) ?? chunk
    const reader = { view: new DataView(bytes.buffer, bytes.byteOffset + pos, bytes.length - pos), offset: 0 }
    let header: PageHeader
    try {
      header = parquetHeader(reader)
    } catch (e) {
      if (pos === 0) return // not a page: nothing to check
      throw new ParquetSeekError(`unreadable page header (${(e as Error).message})`, {
        file,
        section: 'page header',
        offset: fileOffset + pos,
      })
    }
    if (!header.type) {
      if (pos === 0) return
      throw new ParquetSeekError('corrupt page header: no page type', { file, section: 'page header', offset: fileOffset + pos })
    }
    const where = { file, offset: fileOffset + pos }
    checkPageHeader(header, where)
    const bodyStart = pos + reader.offset
    if (bodyStart + header.compressed_page_size > bytes.length) {
      // a result read holds exactly its page: a longer page is corrupt; a longer slice's tail is another read's
      if (pos === 0)
        throw new ParquetSeekError(
          `corrupt page header: a ${header.compressed_page_size}-byte page where ${bytes.length - bodyStart} bytes were read`,
          {
            file,
            section: 'page header',
            offset: where.offset,
          },
        )
      return
    }
    const body = bytes.subarray(bodyStart, bodyStart + header.compressed_page_size)
    const v1 = header.data_page_header
    if (v1 && (chunk.rep || chunk.def) && v1.repetition_level_encoding !== 'BIT_PACKED' && v1.definition_level_encoding !== 'BIT_PACKED') {
      let plain: Uint8Array
      try {
        plain = decompressPage(body, header.uncompressed_page_size, chunk.codec, codecs)
      } catch (e) {
        throw new ParquetSeekError(`cannot decompress the page (${(e as Error).message})`, { file, section: 'page', offset: where.offset })
      }
      let at = 0
      for (const [width, what] of [
        [chunk.rep, 'repetition levels'],
        [chunk.def, 'definition levels'],
      ] as const) {
        if (!width) continue
        if (at + 4 > plain.length)
          throw new ParquetSeekError(`corrupt ${what}: no length`, { file, section: 'page levels', offset: where.offset })
        const length = new DataView(plain.buffer, plain.byteOffset + at, 4).getUint32(0, true)
        checkLevels(plain, at + 4, length, width, v1.num_values, what, where)
        at += 4 + length
      }
    }
    const v2 = header.data_page_header_v2
    if (v2) {
      const rep = v2.repetition_levels_byte_length
      if (rep && chunk.rep) checkLevels(body, 0, rep, chunk.rep, v2.num_values, 'repetition levels', where)
      if (v2.definition_levels_byte_length && chunk.def)
        checkLevels(body, rep, v2.definition_levels_byte_length, chunk.def, v2.num_values, 'definition levels', where)
    }
    pos = bodyStart + header.compressed_page_size
  }
}

const bitWidth = (maxLevel: number) => 32 - Math.clz32(maxLevel)

/**
 * The parts of a decoded footer the reader relies on, checked for type and range: thrift
 * decoding of corrupt bytes yields fields of the wrong type or absurd values, which would
 * otherwise surface as TypeErrors deep inside (or as reads outside the file).
 */
export function checkMetadata(metadata: FileMetaData, fileSize: number, file?: string): void {
  const fail = (what: string): never => {
    throw new ParquetSeekError(`corrupt Parquet footer: ${what}`, { file, section: 'footer' })
  }
  const count = (v: unknown) => (typeof v === 'bigint' ? Number(v) : typeof v === 'number' ? v : Number.NaN)
  const inFile = (v: unknown) => {
    const n = count(v)
    return Number.isSafeInteger(n) && n >= 0 && n <= fileSize
  }
  if (!Array.isArray(metadata.schema) || !metadata.schema.length) fail('no schema')
  for (const [i, el] of metadata.schema.entries())
    if (typeof el !== 'object' || el === null || typeof el.name !== 'string') fail(`schema element ${i} has no name`)
  // the elements are a tree written depth first: every child a parent claims is there, and no
  // element lies outside it (hyparquet's schema walk reads past the end otherwise)
  const pending: number[] = []
  for (const [i, el] of metadata.schema.entries()) {
    if (i > 0) {
      if (!pending.length) fail(`schema element ${i} is outside the tree (its elements end before it)`)
      pending[pending.length - 1] = (pending.at(-1) as number) - 1
    }
    const children = el.num_children ?? 0
    if (!Number.isSafeInteger(children) || children < 0) fail(`schema element ${i} claims ${String(el.num_children)} children`)
    if (children > 0) pending.push(children)
    while (pending.at(-1) === 0) pending.pop()
  }
  if (pending.length) fail(`the schema ends before all ${metadata.schema.length} elements' children (${pending.at(-1)} more claimed)`)
  const rows = count(metadata.num_rows)
  if (!Number.isSafeInteger(rows) || rows < 0) fail(`row count ${String(metadata.num_rows)}`)
  if (!Array.isArray(metadata.row_groups)) fail('no row groups')
  let total = 0
  for (const [g, group] of metadata.row_groups.entries()) {
    const n = count(group?.num_rows)
    if (!Number.isSafeInteger(n) || n < 0) fail(`row group ${g} has ${String(group?.num_rows)} rows`)
    total += n
    if (!Array.isArray(group.columns)) fail(`row group ${g} has no column list`)
    for (const [c, chunk] of group.columns.entries()) {
      const m = chunk?.meta_data
      if (!m) continue
      const where = `row group ${g}, column chunk ${c}`
      if (!Array.isArray(m.path_in_schema) || !m.path_in_schema.every((p) => typeof p === 'string')) fail(`${where} has no column path`)
      if (!inFile(m.data_page_offset) || !inFile(m.total_compressed_size))
        fail(`${where} has offset ${m.data_page_offset}, size ${m.total_compressed_size}`)
      if (m.dictionary_page_offset !== undefined && !inFile(m.dictionary_page_offset))
        fail(`${where} has dictionary offset ${m.dictionary_page_offset}`)
      const start = count(m.dictionary_page_offset ?? m.data_page_offset)
      if (start + count(m.total_compressed_size) > fileSize) fail(`${where} ends past the ${fileSize}-byte file`)
      const values = count(m.num_values)
      if (!Number.isSafeInteger(values) || values < 0) fail(`${where} has ${String(m.num_values)} values`)
      for (const key of ['offset_index_offset', 'offset_index_length', 'column_index_offset', 'column_index_length'] as const)
        if (chunk[key] !== undefined && !inFile(chunk[key])) fail(`${where} has ${key} ${String(chunk[key])}`)
    }
  }
  if (total !== rows) fail(`row groups hold ${total} rows, the footer says ${rows}`)
  const kv = metadata.key_value_metadata
  if (kv !== undefined) {
    if (!Array.isArray(kv)) fail('key-value metadata is not a list')
    for (const e of kv)
      if (typeof e !== 'object' || e === null || typeof e.key !== 'string' || (e.value !== undefined && typeof e.value !== 'string'))
        fail('a key-value entry is not text')
  }
}
