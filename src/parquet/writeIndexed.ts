import type { AsyncBuffer, ColumnChunk, FileMetaData, KeyValue, OffsetIndex, RowGroup, SchemaElement, SchemaTree } from 'hyparquet'
import { parquetSchema, readOffsetIndex } from 'hyparquet'
import { getMaxRepetitionLevel } from 'hyparquet/src/schema.js'
import { ByteWriter } from 'hyparquet-writer'
import { writeMetadata } from 'hyparquet-writer/src/metadata.js'
import { serializeTCompactProtocol } from 'hyparquet-writer/src/thrift.js'
import { ParquetSeekError, throwIfAborted } from '../errors.js'
import type { ByteSink } from '../io/sink.js'
import { type ColumnBlock, type EmbeddingColumn, ROW_BLOCK_BYTES, readColumnBlocks, vectorsAt } from './embedding.js'
import { isRepeatedColumn } from './listRows.js'
import { pageLocationsFromHeaders, walkChunkOnce, walkedOffsetIndex } from './pageLocations.js'
import { leafTrees, permuteRows, ROW_COLUMN } from './permute.js'
import { canRepage, PAGE_LIMIT, repageChunk, repageChunkInBlocks, writeFlatChunk } from './repage.js'
import { VectorChunkWriter, writeVectorChunk } from './vectorChunk.js'

type PageLocation = OffsetIndex['page_locations'][number]

/** A chunk re-paged block by block whose count of values is not the one declared: hyparquet misread it (see writeIndexed). */
function misread(file: string | undefined, column: string, g: number, declared: bigint, written: bigint | undefined): ParquetSeekError {
  return new ParquetSeekError(
    `row group ${g} declares ${declared} values but decodes to ${written}; cannot re-page this column faithfully (a DuckDB fixed-size array with NULLs?)`,
    { file, column },
  )
}

/** Page location of every row's embedding page (absolute, header included). */
export interface RowPages {
  offsets: Float64Array
  lengths: Uint32Array
}

/**
 * A vector column that is not in the input: appended as the last top-level column, a nullable
 * LIST of FLOAT written one vector per page like a rewritten embedding column. `values` gives
 * each row group's vectors (null: no vector for that row).
 */
export interface AddedColumn {
  name: string
  /** The vectors of rows [rowStart, rowEnd): a row group's, ADDED_BLOCK_ROWS at most at a time. */
  values: (rowStart: number, rowEnd: number) => Promise<Array<Float32Array | null>>
  /** Store the values as half floats (FLOAT16, 2 bytes each), rounded to the nearest. */
  float16?: boolean
}

export interface WriteIndexedOptions {
  source: AsyncBuffer
  metadata: FileMetaData
  /** The input's embedding column, rewritten one vector per page (absent: every chunk is copied). */
  column?: EmbeddingColumn
  /** A vector column to add (embedded from text, say). */
  added?: AddedColumn
  sink: ByteSink
  file?: string
  /**
   * Rows in another order (output row i = input row order[i]): every column is re-encoded in
   * that order (permuteProblem says which files allow it) and a ROW_COLUMN with each row's input
   * position is added last, unless the input has one. Not with `added`.
   */
  order?: Uint32Array
  /** With `order`: the embedding column's vectors already decoded (float32, row-major, every row). */
  vectors?: Float32Array
  /** Called once all data pages are written; returns the index blob (absent: no blob). */
  makeBlob?: (pages: RowPages) => Uint8Array
  /** Key-value entries for the footer (naming the blob, given where it landed). */
  keyValues: (blobOffset: number, blobLength: number) => KeyValue[]
  signal?: AbortSignal
  /**
   * With `order`: decoded values held at once (default: every row's); a file whose rows take more
   * is read once for each window of output row groups that fits (permuteRows).
   */
  reorderBytes?: number
  /** With `order`: columns decoded so far, of every window's (each window's before its rows are written). */
  onReorder?: (columnsDone: number, columnsTotal: number) => void
  onProgress?: (rowsDone: number, rowsTotal: number) => void
  /**
   * A chunk over this many bytes is read, copied and re-paged a block of rows at a time, from a
   * local source (rowBlocks; default ROW_BLOCK_BYTES: tests make it small).
   */
  blockBytes?: number
}

export interface WriteIndexedResult {
  bytes: number
  blobOffset: number
  blobLength: number
}

/** Rows of an added column asked for at once (AddedColumn.values): 16,384 × 512 floats are 32 MiB. */
const ADDED_BLOCK_ROWS = 16_384

/** Parquet's magic bytes, at a file's start and end. */
export const PAR1 = new Uint8Array([0x50, 0x41, 0x52, 0x31])

/**
 * Writes the indexed Parquet file: every row group and column of the input in order; other
 * columns' chunks copied byte for byte (their encodings, statistics and pages are kept); the
 * embedding column rewritten one vector per DataPage V2, PLAIN, LZ4_RAW, no statistics; an
 * added vector column, if any, last, written the same way; an offset index for every chunk;
 * then the index blob; then the footer.
 */
export async function writeIndexed(o: WriteIndexedOptions): Promise<WriteIndexedResult> {
  const { source, metadata, column, added, order, sink, file, signal, blockBytes = ROW_BLOCK_BYTES } = o
  const local = !!(source as { local?: boolean }).local
  const rows = Number(metadata.num_rows)
  const root = parquetSchema(metadata)
  const leaves = leafTrees(metadata)
  const embeddingTree = column ? [root, ...column.leafPath] : []
  if (order && (added || !column)) throw new Error('rows are reordered only with an embedding column and nothing added')
  const permuted =
    order && column
      ? await permuteRows(source, metadata, column, order, {
          file,
          signal,
          vectors: o.vectors,
          windowBytes: o.reorderBytes,
          onProgress: o.onReorder,
        })
      : undefined
  const rowColumn = permuted && !root.children.some((c) => c.element.name === ROW_COLUMN)
  const schema = added ? withListColumn(metadata, added.name, added.float16) : rowColumn ? withRowColumn(metadata) : metadata.schema
  const addedTree = added ? listColumnTree(schema, added.name) : []
  const outRoot = parquetSchema({ schema } as FileMetaData)
  const rowTree: SchemaTree[] = rowColumn ? [outRoot, outRoot.children.at(-1) as SchemaTree] : []
  const pages: RowPages = { offsets: new Float64Array(rows), lengths: new Uint32Array(rows) }
  const offsetIndexes: Array<{ chunk: ColumnChunk; locations: PageLocation[] }> = []
  const columnIndexes: Array<{ chunk: ColumnChunk; bytes: Uint8Array }> = []
  const embeddingChunks = new Set<ColumnChunk>()
  let offset = 0
  const emit = async (bytes: Uint8Array) => {
    await sink.write(bytes)
    offset += bytes.length
  }

  type Written = (typeof offsetIndexes)[number]
  /** Writes one column chunk at the current offset, appends it to the file and to `columns`. */
  const writeChunk = async (columns: ColumnChunk[], write: (writer: ByteWriter) => Written | Promise<Written>) => {
    const writer = new ByteWriter()
    writer.offset = offset
    const written = await write(writer)
    await emit(writer.getBytes())
    columns.push(written.chunk)
    offsetIndexes.push(written)
    return written
  }

  /**
   * Whether hyparquet gave the rows of the vector chunk being written (a FIXED_LEN_BYTE_ARRAY
   * column's; a list's are assembled as Dremel defines rows, by readListVectors or readListRows):
   * its count of values is then checked.
   */
  let hyparquetRows = false
  /** A vector chunk written a block of rows at a time (VectorChunkWriter), each block emitted as written. */
  const writeVectorBlocks = (columns: ColumnChunk[], tree: SchemaTree[], blocks: AsyncIterable<ColumnBlock>) =>
    writeChunk(columns, async (writer) => {
      const chunkWriter = new VectorChunkWriter(tree)
      for await (const { rowStart, rowEnd, values, vectors } of blocks) {
        throwIfAborted(signal)
        const block = new ByteWriter()
        block.offset = offset
        // (vectors decoded straight into a matrix: its rows as views, no array of numbers each;
        // a row that is no vector as its value)
        let rowsIn: unknown[] = values
        if (vectors) {
          const at = vectorsAt(vectors, rowStart)
          rowsIn = Array.from({ length: rowEnd - rowStart }, (_, i) => at(rowStart + i))
        } else hyparquetRows ||= column?.kind !== 'list'
        chunkWriter.add(block, rowsIn)
        await emit(block.getBytes())
      }
      writer.offset = offset
      return chunkWriter.finish()
    })

  /** Values declared and written of each other column written in another order (permuted). */
  const permutedValues = new Map<number, { declared: bigint; written: bigint }>()
  await emit(PAR1)
  let declaredValues = 0n
  let writtenValues = 0n
  const rowGroups: RowGroup[] = []
  let rowStart = 0
  for (const [g, group] of metadata.row_groups.entries()) {
    throwIfAborted(signal)
    const groupRows = Number(group.num_rows)
    const groupStart = offset
    const columns: ColumnChunk[] = []
    for (const [c, chunk] of group.columns.entries()) {
      const meta = chunk.meta_data
      const name = meta?.path_in_schema.join('.') ?? `#${c}`
      if (!meta || chunk.file_path) {
        throw new ParquetSeekError('column chunk has no inline metadata (external or encrypted chunks are not supported)', {
          file,
          column: name,
        })
      }
      if (permuted && c !== column?.leafIndex) {
        const values = await permuted.values(c, rowStart, rowStart + groupRows)
        const written = await writeChunk(columns, (writer) => writeFlatChunk(writer, leaves[c] ?? [], values, meta.codec))
        // rows in another order: each group's count differs, the file's total is checked below
        // (not a list's: its rows are Dremel's, readListRows, and DuckDB's NULL of a fixed-size
        // array, n levels, is written as one)
        if (!isRepeatedColumn(metadata, leaves[c]?.[1]?.element.name ?? '')) {
          const counts = permutedValues.get(c) ?? { declared: 0n, written: 0n }
          counts.declared += meta.num_values
          counts.written += written.chunk.meta_data?.num_values ?? 0n
          permutedValues.set(c, counts)
        }
      } else if (c === column?.leafIndex) {
        hyparquetRows = permuted?.hyparquetRows ?? false
        const rowsIn = permuted && (await permuted.values(c, rowStart, rowStart + groupRows))
        const { chunk: written, locations } = rowsIn
          ? await writeChunk(columns, (writer) => writeVectorChunk(writer, embeddingTree, rowsIn))
          : // a block of rows at a time: a large row group is not decoded whole
            await writeVectorBlocks(
              columns,
              embeddingTree,
              readColumnBlocks(source, metadata, column.name, column.leafIndex, g, rowStart, {
                file,
                signal,
                blockBytes,
                // (as stored: a DOUBLE's values as float64, which float32 would round)
                vectors: column.kind === 'list' ? { column, dim: 0, asStored: true } : undefined,
              }),
            )
        embeddingChunks.add(written)
        // hyparquet assembles DuckDB's NULL of a fixed-size array (n levels) as n rows; rows read as
        // vectors (readListVectors) are Dremel's, and such a NULL is written as one level
        if (hyparquetRows) {
          declaredValues += meta.num_values
          writtenValues += written.meta_data?.num_values ?? 0n
        }
        // rows in another order: the groups' counts differ, the file's total is checked below
        if (!permuted && hyparquetRows && written.meta_data?.num_values !== meta.num_values) {
          // The reader mis-assembled the column (seen with DuckDB's NULL fixed-size arrays):
          // rewriting it would silently change rows, so stop here.
          throw new ParquetSeekError(
            `row group ${g} declares ${meta.num_values} values but decodes to ${written.meta_data?.num_values}; cannot rewrite this column faithfully`,
            { file, column: column?.name, offset: Number(meta.data_page_offset) },
          )
        }
        if (locations.length !== groupRows) throw new Error(`wrote ${locations.length} pages for ${groupRows} rows`)
        for (const [i, loc] of locations.entries()) {
          pages.offsets[rowStart + i] = Number(loc.offset)
          pages.lengths[rowStart + i] = loc.compressed_page_size
        }
      } else {
        const start = Number(meta.dictionary_page_offset || meta.data_page_offset)
        const length = Number(meta.total_compressed_size)
        if (start < 4 || start + length > source.byteLength) {
          throw new ParquetSeekError(`column chunk [${start}, ${start + length}) is outside the file`, {
            file,
            column: name,
            offset: start,
          })
        }
        // a chunk of several blocks, from a disk: never held whole (its pages walked, it is copied
        // or re-paged a block at a time); otherwise read at once
        const large = local && length > blockBytes
        const bytes = large ? undefined : new Uint8Array(await source.slice(start, start + length))
        const shift = offset - start
        const locations = await copiedLocations(source, metadata, g, c, bytes, offset, shift, {
          file,
          column: name,
          sourceOffset: start,
          codec: meta.codec,
          maxRepetitionLevel: getMaxRepetitionLevel(leaves[c] ?? []),
        })
        const tree = leaves[c] ?? []
        if ((!locations || Math.max(...locations.map((p) => p.compressed_page_size)) > PAGE_LIMIT) && canRepage(tree)) {
          // Large pages (DuckDB writes a whole row group of text as one page) would make
          // fetching a result row's value read the whole page: write this column in small pages
          // (and pages that do not begin at rows, which no offset index describes, in pages that do).
          if (large) {
            const top = tree[1]?.element.name as string
            const blocks = readColumnBlocks(source, metadata, top, c, g, rowStart, { file, signal, blockBytes, rawBytes: true })
            const out = { offset: () => offset, emit }
            const { chunk: repaged } = await writeChunk(columns, async (writer) => {
              const written = await repageChunkInBlocks(out, tree, blocks, rowStart, meta.codec, meta.statistics)
              writer.offset = offset
              return written
            })
            const written = repaged.meta_data?.num_values
            // (a list's rows are Dremel's, readListRows: DuckDB's NULL of a fixed-size array, n
            // levels, is written as one)
            if (written !== meta.num_values && !isRepeatedColumn(metadata, top)) throw misread(file, name, g, meta.num_values, written)
            continue
          }
          const writer = new ByteWriter()
          writer.offset = offset
          // (from the chunk's bytes read above: over HTTP not a second download)
          const from = bytes ? withBytesAt(source, start, bytes) : source
          const written = await repageChunk(writer, from, metadata, tree, rowStart, rowStart + groupRows, meta.codec, file)
          // a count of values that differs is hyparquet's misreading (other rows' values would
          // move in): such a chunk is copied as it is — not a list's, whose rows are Dremel's
          // (readListRows: DuckDB's NULL of a fixed-size array, n levels, is written as one)
          if (written.chunk.meta_data?.num_values === meta.num_values || isRepeatedColumn(metadata, tree[1]?.element.name ?? '')) {
            await emit(writer.getBytes())
            columns.push(written.chunk)
            offsetIndexes.push(written)
            continue
          }
        }
        const moved: ColumnChunk = {
          ...chunk,
          file_offset: BigInt(offset),
          meta_data: {
            ...meta,
            data_page_offset: meta.data_page_offset + BigInt(shift),
            dictionary_page_offset: meta.dictionary_page_offset ? meta.dictionary_page_offset + BigInt(shift) : undefined,
            index_page_offset: meta.index_page_offset ? meta.index_page_offset + BigInt(shift) : undefined,
            bloom_filter_offset: undefined,
            bloom_filter_length: undefined,
          },
          offset_index_offset: undefined,
          offset_index_length: undefined,
          column_index_offset: undefined,
          column_index_length: undefined,
        }
        if (bytes) await emit(bytes)
        else
          for (let at = start; at < start + length; at += blockBytes) {
            throwIfAborted(signal)
            await emit(new Uint8Array(await source.slice(at, Math.min(start + length, at + blockBytes))))
          }
        columns.push(moved)
        // (a chunk whose pages do not begin at rows is copied without an offset index: read whole)
        if (locations) offsetIndexes.push({ chunk: moved, locations })
        if (chunk.column_index_offset !== undefined && chunk.column_index_length) {
          const ci = Number(chunk.column_index_offset)
          if (ci + chunk.column_index_length <= source.byteLength) {
            columnIndexes.push({ chunk: moved, bytes: new Uint8Array(await source.slice(ci, ci + chunk.column_index_length)) })
          }
        }
      }
    }
    if (rowColumn && order) {
      const rowNumbers = Array.from(order.subarray(rowStart, rowStart + groupRows))
      await writeChunk(columns, (writer) => writeFlatChunk(writer, rowTree, rowNumbers, 'LZ4_RAW'))
    }
    if (added) {
      // ADDED_BLOCK_ROWS rows' vectors at a time
      const groupEnd = rowStart + groupRows
      const vectors = added
      async function* blocks(from: number) {
        for (let start = from; start < groupEnd; start += ADDED_BLOCK_ROWS) {
          const end = Math.min(groupEnd, start + ADDED_BLOCK_ROWS)
          const values = await vectors.values(start, end)
          if (values.length !== end - start) throw new Error(`${values.length} vectors for ${end - start} rows`)
          yield { rowStart: start, rowEnd: end, values }
        }
      }
      const { chunk: written } = await writeVectorBlocks(columns, addedTree, blocks(rowStart))
      embeddingChunks.add(written)
    }
    let uncompressed = 0n
    for (const c of columns) uncompressed += c.meta_data?.total_uncompressed_size ?? 0n
    rowGroups.push({
      ...group,
      columns,
      total_byte_size: uncompressed,
      total_compressed_size: BigInt(offset - groupStart),
      file_offset: BigInt(groupStart),
      ordinal: g,
      // rows in another order are no longer sorted as the input declared
      sorting_columns: order ? undefined : group.sorting_columns,
    })
    rowStart += groupRows
    o.onProgress?.(rowStart, rows)
  }

  for (const [c, counts] of permutedValues)
    if (counts.declared !== counts.written) {
      const path = (leaves[c] ?? [])
        .slice(1)
        .map((n) => n.element.name)
        .join('.')
      throw new ParquetSeekError(
        `the file declares ${counts.declared} values but decodes to ${counts.written}; cannot write its rows in another order faithfully (a DuckDB fixed-size array with NULLs? index without --cluster-rows copies such a column as it is)`,
        { file, column: path },
      )
    }
  if (declaredValues !== writtenValues)
    throw new ParquetSeekError(
      `the file declares ${declaredValues} values but decodes to ${writtenValues}; cannot rewrite this column faithfully`,
      {
        file,
        column: column?.name,
      },
    )

  // Page indexes: column indexes (copied), then offset indexes, as other writers lay them out.
  for (const { chunk, bytes } of columnIndexes) {
    chunk.column_index_offset = BigInt(offset)
    chunk.column_index_length = bytes.length
    await emit(bytes)
  }
  // Embedding offset indexes first (large, never needed by search: the index stores page
  // locations); the other columns' small ones last, next to the index blob and the footer, so
  // the tail read at open covers what projecting result columns needs.
  const isEmbedding = (e: (typeof offsetIndexes)[number]) => embeddingChunks.has(e.chunk)
  const ordered = [...offsetIndexes.filter(isEmbedding), ...offsetIndexes.filter((e) => !isEmbedding(e))]
  for (const { chunk, locations } of ordered) {
    const bytes = offsetIndexBytes(locations)
    chunk.offset_index_offset = BigInt(offset)
    chunk.offset_index_length = bytes.length
    await emit(bytes)
  }

  throwIfAborted(signal)
  const blob = o.makeBlob?.(pages) ?? new Uint8Array(0)
  const blobOffset = offset
  await emit(blob)

  const footer = new ByteWriter()
  const inherited = (metadata.key_value_metadata ?? []).filter((kv) => !kv.key.startsWith('parquetseek.'))
  writeFooter(footer, {
    version: metadata.version,
    schema,
    num_rows: metadata.num_rows,
    row_groups: rowGroups,
    key_value_metadata: [...inherited, ...o.keyValues(blobOffset, blob.length)],
    created_by: metadata.created_by,
  } as FileMetaData)
  await emit(footer.getBytes())
  await emit(PAR1)
  return { bytes: offset, blobOffset, blobLength: blob.length }
}

/** A column chunk's offset index, serialized (thrift compact): where each of its pages lies. */
export function offsetIndexBytes(locations: PageLocation[]): Uint8Array {
  const writer = new ByteWriter()
  serializeTCompactProtocol(writer, {
    field_1: locations.map((p) => ({ field_1: p.offset, field_2: p.compressed_page_size, field_3: p.first_row_index })),
  })
  return writer.getBytes()
}

async function copiedLocations(
  source: AsyncBuffer,
  metadata: FileMetaData,
  g: number,
  c: number,
  /** The whole chunk, or undefined: its pages are then walked from `source` (walkChunkOnce). */
  bytes: Uint8Array | undefined,
  newStart: number,
  shift: number,
  info: Parameters<typeof pageLocationsFromHeaders>[2],
): Promise<PageLocation[] | undefined> {
  const chunk = metadata.row_groups[g]?.columns[c] as ColumnChunk
  const at = chunk.offset_index_offset
  const length = chunk.offset_index_length
  if (at !== undefined && length && Number(at) + length <= source.byteLength) {
    const buf = await source.slice(Number(at), Number(at) + length)
    const index = readOffsetIndex({ view: new DataView(buf), offset: 0 })
    return index.page_locations.map((p) => ({ ...p, offset: p.offset + BigInt(shift) }))
  }
  if (bytes) return pageLocationsFromHeaders(bytes, newStart, info)
  await walkChunkOnce(source, metadata, g, c, info.file)
  const walked = walkedOffsetIndex(metadata, g, chunk.meta_data?.path_in_schema.join('.') ?? '')
  return walked?.map((p) => ({ ...p, offset: p.offset + BigInt(shift) }))
}

/** `source`, with its bytes at [at, at + bytes.length) already read: reads inside them come from memory. */
function withBytesAt(source: AsyncBuffer, at: number, bytes: Uint8Array): AsyncBuffer {
  return {
    byteLength: source.byteLength,
    slice: (start, end = source.byteLength) =>
      start >= at && end <= at + bytes.length ? bytes.slice(start - at, end - at).buffer : source.slice(start, end),
  }
}

/** The schema with a required INT32 ROW_COLUMN appended to the root. */
function withRowColumn(metadata: FileMetaData): FileMetaData['schema'] {
  const [root, ...rest] = metadata.schema
  if (!root) throw new ParquetSeekError('the file has no schema')
  return [
    { ...root, num_children: (root.num_children ?? 0) + 1 },
    ...rest,
    { name: ROW_COLUMN, type: 'INT32', repetition_type: 'REQUIRED' },
  ]
}

/** The schema with a nullable LIST<FLOAT> (or LIST<FLOAT16>) column `name` appended to the root. */
function withListColumn(metadata: FileMetaData, name: string, float16 = false): FileMetaData['schema'] {
  const [root, ...rest] = metadata.schema
  if (!root) throw new ParquetSeekError('the file has no schema')
  return [
    { ...root, num_children: (root.num_children ?? 0) + 1 },
    ...rest,
    { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
    { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
    float16
      ? { name: 'element', type: 'FIXED_LEN_BYTE_ARRAY', type_length: 2, logical_type: { type: 'FLOAT16' }, repetition_type: 'REQUIRED' }
      : { name: 'element', type: 'FLOAT', repetition_type: 'REQUIRED' },
  ]
}

function listColumnTree(schema: FileMetaData['schema'], name: string) {
  const root = parquetSchema({ schema } as FileMetaData)
  const top = root.children.at(-1)
  const list = top?.children[0]
  const element = list?.children[0]
  if (top?.element.name !== name || !list || !element) throw new Error(`added column ${name} is not last in the schema`)
  return [root, top, list, element]
}

/**
 * Writes a footer (hyparquet-writer's writeMetadata), integer columns annotated as DuckDB
 * annotates them: by their converted type (INT_8 … UINT_64) alone. The INTEGER logical type says
 * the same, but hyparquet-writer stores its bit width as a thrift i32 where the format has an i8,
 * and DuckDB and Arrow then refuse the whole footer ("TProtocolException: Invalid data") — so an
 * input from pyarrow with an int8 or uint32 column came out unreadable.
 */
export function writeFooter(writer: ByteWriter, metadata: FileMetaData): void {
  const schema = metadata.schema.map((element): SchemaElement => {
    const logical = element.logical_type
    if (logical?.type !== 'INTEGER') return element
    const { logical_type: _, ...rest } = element
    return { ...rest, converted_type: `${logical.isSigned ? '' : 'U'}INT_${logical.bitWidth}` as SchemaElement['converted_type'] }
  })
  writeMetadata(writer, { ...metadata, schema })
}
