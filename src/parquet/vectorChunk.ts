import type { ColumnChunk, OffsetIndex, SchemaTree } from 'hyparquet'
import type { ByteWriter } from 'hyparquet-writer'
import { writeDataPageV2 } from 'hyparquet-writer/src/datapage.js'
import { encodeNestedValues } from 'hyparquet-writer/src/dremel.js'
import { lz4Compress } from './lz4.js'

type PageLocation = OffsetIndex['page_locations'][number]

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
  const schemaPath = tree.map((n) => n.element)
  const element = schemaPath.at(-1)
  if (!element?.type) throw new Error('embedding leaf has no physical type')
  const data = encodeNestedValues(tree, rows as never)
  const levels = data.definitionLevels.length || data.values.length
  const column = {
    columnName: schemaPath
      .slice(1)
      .map((s) => s.name)
      .join('.'),
    element,
    schemaPath,
    codec: 'LZ4_RAW' as const,
    compressors: { LZ4_RAW: lz4Compress },
    stats: false,
    pageSize: 0,
    columnIndex: false,
    offsetIndex: true,
  }
  const start = writer.offset
  const locations: PageLocation[] = []
  let uncompressed = 0
  let i = 0
  for (let row = 0; i < levels; row++) {
    let end = i + 1
    if (data.repetitionLevels.length) while (end < levels && data.repetitionLevels[end] !== 0) end++
    const pageStart = writer.offset
    uncompressed += writeDataPageV2({
      writer,
      column,
      encoding: 'PLAIN',
      pageData: {
        values: data.values.slice(i, end),
        definitionLevels: data.definitionLevels.slice(i, end),
        repetitionLevels: data.repetitionLevels.slice(i, end),
        maxDefinitionLevel: data.maxDefinitionLevel,
      },
    })
    locations.push({ offset: BigInt(pageStart), compressed_page_size: writer.offset - pageStart, first_row_index: BigInt(row) })
    i = end
  }
  return {
    chunk: {
      file_offset: BigInt(start),
      meta_data: {
        type: element.type,
        encodings: ['PLAIN', 'RLE'],
        path_in_schema: schemaPath.slice(1).map((s) => s.name),
        codec: 'LZ4_RAW',
        num_values: BigInt(levels),
        total_compressed_size: BigInt(writer.offset - start),
        total_uncompressed_size: BigInt(uncompressed),
        data_page_offset: BigInt(start),
        encoding_stats: [{ page_type: 'DATA_PAGE_V2', encoding: 'PLAIN', count: locations.length }],
      },
    },
    locations,
  }
}
