import type { AsyncBuffer, ColumnMetaData, DecodedArray, FileMetaData, OffsetIndex, ParquetParsers, SchemaTree } from 'hyparquet'
import { parquetSchema } from 'hyparquet'
import { assembleLists, assembleNested } from 'hyparquet/src/assemble.js'
import { parquetHeader, readPage } from 'hyparquet/src/column.js'
import { convert, convertWithDictionary, DEFAULT_PARSERS } from 'hyparquet/src/convert.js'
import { decompressPage, readDataPage, readDataPageV2 } from 'hyparquet/src/datapage.js'
import { getMaxDefinitionLevel, getTreePath } from 'hyparquet/src/schema.js'
import type { ColumnDecoder } from 'hyparquet/src/types.js'
import { ParquetSeekError } from '../errors.js'
import { codecs } from './codecs.js'
import { checkPageHeader } from './guard.js'
import { dictionaryPage, pagesHolding } from './listVectors.js'

type PageLocation = OffsetIndex['page_locations'][number]

/**
 * Rows [rowStart, rowEnd) (of the file; row group `g` begins at `groupStart`) of top-level
 * column `name` when repeated levels are in it (a list, a list of lists, a map, a struct holding
 * one), as hyparquet gives them (its page decoding, conversions and assembly; a null list null),
 * with rows as Dremel defines them: a row begins at repetition level 0. DuckDB writes a NULL of a
 * fixed-size array (`INTEGER[3]`) as 3 levels below the list, the 2 after the first repeating
 * a list that is not there; hyparquet 1.31 assembles each as a row, moving every later row of
 * the page onto the next, silently. Those levels are dropped here (DuckDB reads one NULL); a
 * level that repeats a missing list and yet holds a value or an element is an error naming the
 * page.
 *
 * `table`: the group's chunks' pages where known (a walk, a stream), by leaf path; else their
 * offset indexes, else a chunk is read whole (pagesHolding). Undefined where the column has no
 * repeated level (hyparquet reads it); pages that do not hold the rows are an error naming them.
 */
export async function readListRows(
  source: AsyncBuffer,
  metadata: FileMetaData,
  name: string,
  g: number,
  groupStart: number,
  rowStart: number,
  rowEnd: number,
  table: Record<string, PageLocation[]> | undefined,
  o: { file?: string; parsers?: Partial<ParquetParsers>; utf8?: boolean } = {},
): Promise<unknown[] | undefined> {
  const shape = repeatedShape(metadata, name, g)
  if (!shape || rowEnd <= rowStart) return undefined
  const parsers = { ...DEFAULT_PARSERS, ...o.parsers }
  const columns = new Map<string, DecodedArray>()
  for (const leaf of shape.leaves) {
    const m = metadata.row_groups[g]?.columns[leaf.leaf]?.meta_data
    if (!m) return undefined
    const decoder: ColumnDecoder = {
      pathInSchema: m.path_in_schema,
      type: m.type,
      element: (leaf.schemaPath.at(-1) as SchemaTree).element,
      schemaPath: leaf.schemaPath,
      codec: m.codec,
      parsers,
      compressors: codecs,
      ...(o.utf8 === undefined ? {} : { utf8: o.utf8 }),
    }
    const where = { file: o.file, column: name, row: rowStart }
    const rows = await leafRows(source, metadata, g, leaf, rowStart - groupStart, rowEnd - groupStart, table?.[leaf.path], decoder, where)
    columns.set(leaf.path, rows)
  }
  assembleNested(columns, shape.top, parsers)
  const rows = columns.get(name) as unknown[] | undefined
  if (rows?.length !== rowEnd - rowStart) throw new Error(`assembled ${rows?.length} rows of ${rowEnd - rowStart}`)
  // (hyparquet 1.31 gives a null list as undefined)
  return rows.map((r) => r ?? null)
}

/**
 * One leaf's rows [from, to) of row group `g` (counted from its first), assembled as hyparquet's
 * readColumn assembles them (assembleLists), DuckDB's levels that repeat a missing list dropped.
 */
async function leafRows(
  source: AsyncBuffer,
  metadata: FileMetaData,
  g: number,
  leaf: LeafShape,
  from: number,
  to: number,
  pages: PageLocation[] | undefined,
  decoder: ColumnDecoder,
  where: { file?: string; column: string; row: number },
): Promise<unknown[]> {
  const { schemaPath, repeatedAt } = leaf
  const m = metadata.row_groups[g]?.columns[leaf.leaf]?.meta_data as ColumnMetaData
  const span = await pagesHolding(source, metadata, g, leaf.leaf, from, to, pages)
  if (!span)
    throw new ParquetSeekError(`the pages of row group ${g} do not reach its row ${from} (or lie outside the file)`, {
      ...where,
      offset: Number(m.dictionary_page_offset ?? m.data_page_offset),
    })
  const full = getMaxDefinitionLevel(schemaPath)
  const { lo, hi, entryRow } = span
  const bytes = new Uint8Array(await source.slice(lo, hi))
  const reader = { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }
  let dictionary: DecodedArray | undefined
  const output: unknown[] = []
  // the row being read (entryRow − 1: levels before the first row's begin belong to the row before),
  // and the definition level of the last level kept (-1: none yet)
  let row = entryRow - 1
  let lastDefinition = -1
  while (reader.offset < bytes.length && row < to) {
    const pageAt = lo + reader.offset
    const header = parquetHeader(reader)
    checkPageHeader(header, { file: where.file, offset: pageAt })
    if (reader.offset + header.compressed_page_size > bytes.length)
      throw new ParquetSeekError(
        `a ${header.compressed_page_size}-byte page where ${bytes.length - reader.offset} bytes of the column chunk remain`,
        { ...where, offset: pageAt },
      )
    if (header.type === 'DICTIONARY_PAGE') {
      dictionary = convert(readPage(reader, header, decoder, undefined, undefined, 0).data as DecodedArray, decoder)
      continue
    }
    const body = bytes.subarray(reader.offset, reader.offset + header.compressed_page_size)
    reader.offset += header.compressed_page_size
    const v1 = header.type === 'DATA_PAGE' ? header.data_page_header : undefined
    const v2 = header.type === 'DATA_PAGE_V2' ? header.data_page_header_v2 : undefined
    if (!v1 && !v2) continue
    const page = v1
      ? readDataPage(decompressPage(body, header.uncompressed_page_size, m.codec, codecs), v1, decoder)
      : readDataPageV2(body, header, decoder)
    const encoding = (v1 ?? v2)?.encoding ?? 'PLAIN'
    if (encoding.endsWith('_DICTIONARY')) dictionary ??= await dictionaryOf(source, metadata, g, leaf.leaf, decoder, where.file)
    const repetition = page.repetitionLevels
    const definition = page.definitionLevels ?? []
    // the levels (and values) of rows [from, to), DuckDB's levels that repeat a missing list
    // dropped (a leaf with no repeated level: every level a row)
    const count = (v1 ?? v2)?.num_values ?? 0
    // levels [first, end) are rows [from, to)'s; `dropped` those of them that repeat a missing list
    let first = -1
    let end = 0
    const dropped: number[] = []
    let v = 0
    let firstValue = 0
    let values = 0
    for (let k = 0; k < count; k++) {
      const r = repetition[k] ?? 0
      const d = definition[k] ?? full
      if (r === 0) {
        row++
        if (row >= to) break
      } else if (lastDefinition < (repeatedAt[r] as number)) {
        // a level repeating a list that is null or empty (or before the first row's beginning)
        if (row >= entryRow && d >= (repeatedAt[r] as number))
          throw new ParquetSeekError(
            `a level repeats a list that is null or empty, yet ${d === full ? 'holds a value' : 'holds an element'} (repetition level ${r}, definition level ${d})`,
            { ...where, offset: pageAt },
          )
        if (d === full) v++
        if (first >= 0) dropped.push(k)
        continue
      }
      if (row >= from) {
        if (first < 0) {
          first = k
          firstValue = v
        }
        end = k + 1
        if (d === full) values++
      }
      lastDefinition = d
      if (d === full) v++
    }
    if (first < 0) continue
    const pageValues = convertWithDictionary(page.dataPage, dictionary, encoding, decoder)
    // (a leaf with no repeated level has no repetition levels; a required one no definition levels)
    const levels = (given: number[], none: number) =>
      given.length !== count ? new Array<number>(end - first).fill(none) : first === 0 && end === count ? given : given.slice(first, end)
    let keptRepetition = levels(repetition, 0)
    let keptDefinition = levels(definition, full)
    if (dropped.length) {
      const drop = new Set(dropped.filter((k) => k < end).map((k) => k - first))
      keptRepetition = keptRepetition.filter((_, i) => !drop.has(i))
      keptDefinition = keptDefinition.filter((_, i) => !drop.has(i))
    }
    const kept = firstValue === 0 && values === pageValues.length ? pageValues : pageValues.slice(firstValue, firstValue + values)
    assembleLists(output, keptDefinition, keptRepetition, kept, schemaPath)
  }
  // the bytes end with the last row asked for
  if (row < to - 1 || output.length !== to - from)
    throw new ParquetSeekError(`row group ${g}'s pages [${lo}, ${hi}) hold ${Math.max(0, row - from + 1)} of its rows ${from}…${to - 1}`, {
      ...where,
      offset: lo,
    })
  return output
}

/** Whether readListRows reads top-level column `name` (repeated levels are in it). */
export function isRepeatedColumn(metadata: FileMetaData, name: string): boolean {
  return metadata.row_groups.length > 0 && repeatedShape(metadata, name, 0) !== undefined
}

interface LeafShape {
  /** The leaf's index in a row group's chunks, and its path. */
  leaf: number
  path: string
  schemaPath: SchemaTree[]
  /** The definition level at which the r-th repeated node is present (index r, from 1). */
  repeatedAt: number[]
}

/** A top-level column's tree and leaves, where some leaf is below a repeated level; else undefined. */
function repeatedShape(metadata: FileMetaData, name: string, g: number): { top: SchemaTree; leaves: LeafShape[] } | undefined {
  const root = trees.get(metadata) ?? parquetSchema(metadata)
  trees.set(metadata, root)
  const top = root.children.find((c) => c.element.name === name)
  if (!top) return undefined
  const leaves: LeafShape[] = []
  for (const [leaf, chunk] of (metadata.row_groups[g]?.columns ?? []).entries()) {
    const path = chunk.meta_data?.path_in_schema
    if (path?.[0] !== name) continue
    // (a chunk naming what the schema does not hold: hyparquet's read names it, inside `decoding`)
    if (!holds(root, path)) return undefined
    const schemaPath = getTreePath(root, path)
    const repeatedAt = [0]
    let definition = 0
    for (const node of schemaPath.slice(1)) {
      const kind = node.element.repetition_type
      if (kind !== 'REQUIRED') definition++
      if (kind === 'REPEATED') repeatedAt.push(definition)
    }
    leaves.push({ leaf, path: path.join('.'), schemaPath, repeatedAt })
  }
  return leaves.some((l) => l.repeatedAt.length > 1) ? { top, leaves } : undefined
}

/** Whether the schema holds `path`, from the root down. */
function holds(root: SchemaTree, path: string[]): boolean {
  let node: SchemaTree | undefined = root
  for (const part of path) node = node?.children.find((c) => c.element.name === part)
  return node !== undefined
}

const trees = new WeakMap<FileMetaData, SchemaTree>()

/** The chunk's dictionary (dictionaryPage: fetched once per footer), converted as `decoder` says. */
async function dictionaryOf(
  source: AsyncBuffer,
  metadata: FileMetaData,
  g: number,
  leaf: number,
  decoder: ColumnDecoder,
  file: string | undefined,
): Promise<DecodedArray> {
  const { header, body } = await dictionaryPage(source, metadata, g, leaf, file, decoder.pathInSchema.join('.'))
  const reader = { view: new DataView(body.buffer, body.byteOffset, body.byteLength), offset: 0 }
  return convert(readPage(reader, header, decoder, undefined, undefined, 0).data as DecodedArray, decoder)
}
