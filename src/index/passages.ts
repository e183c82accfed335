import type { AsyncBuffer, ColumnChunk, FileMetaData, OffsetIndex, RowGroup, SchemaTree } from 'hyparquet'
import { parquetSchema } from 'hyparquet'
import { ByteWriter } from 'hyparquet-writer'
import { ParquetSeekError, throwIfAborted } from '../errors.js'
import type { ByteSink } from '../io/sink.js'
import { ROW_BLOCK_BYTES, readColumnBlocks, rowBlocks, vectorElement } from '../parquet/embedding.js'
import { leafTrees } from '../parquet/permute.js'
import { canRepage, writeFlatChunk } from '../parquet/repage.js'
import { offsetIndexBytes, PAR1, writeFooter } from '../parquet/writeIndexed.js'
import { PASSAGE_NUMBER, PASSAGE_ROW } from './keys.js'

/**
 * Long texts as passages, one row each. An encoder reads a text's beginning only (use-lite-512:
 * its first 128 tokens, about 45 words of technical markdown), so a document was found by what
 * its first lines say: on the SAP Fiori docs (728, median 614 words) a sentence from past a doc's
 * first 100 words found it in the top 10 for 0.193 of queries; cut into passages of 40 words (10
 * shared with the next), each embedded, 0.777 — a sentence from its start 0.920 (0.868), its
 * title 0.876 (0.905); `npm run bench:passages`. The passages' file has a row per passage: every
 * column of the row it comes from, the text column holding the passage, and two more:
 * PASSAGE_ROW (the input row) and PASSAGE_NUMBER (its place in that row's text, from 0).
 */
export { PASSAGE_NUMBER, PASSAGE_ROW }

export interface PassageOptions {
  /** Words a passage holds at most (default 40: 128 tokens of technical text). */
  words?: number
}

export const DEFAULT_PASSAGE_WORDS = 40

/** Words shared by a passage and the next, so a sentence cut by one is whole in the other: a quarter. */
export const passageOverlap = (words: number) => Math.floor(words / 4)

/**
 * `text` cut into passages of at most `words` words, each starting `words − overlap` words after
 * the one before, its words joined by single spaces (line breaks and runs of spaces cost the
 * encoder: on 148 SAP Fiori queries, 0.851 → 0.865 in the top 10 when collapsed). A text of at
 * most `words` words is one passage, itself; null or blank text none.
 */
export function passagesOf(text: string | null | undefined, o: PassageOptions = {}): string[] {
  if (!text?.trim()) return []
  const words = o.words ?? DEFAULT_PASSAGE_WORDS
  const all = text.match(/\S+/g) ?? []
  if (all.length <= words) return [text]
  const step = words - passageOverlap(words)
  const out: string[] = []
  for (let first = 0; ; first += step) {
    out.push(all.slice(first, first + words).join(' '))
    if (first + words >= all.length) return out
  }
}

export interface PassageRowsOptions extends PassageOptions {
  /** The text column to cut (a top-level text column). */
  text: string
  file?: string
  signal?: AbortSignal
  /** Output rows a row group (default 8,192). */
  rowGroupRows?: number
  /** Bytes of the text column, as stored, read at once (ROW_BLOCK_BYTES; tests make it small). */
  blockBytes?: number
  onProgress?: (rowsDone: number, rowsTotal: number) => void
}

export interface PassageRowsSummary {
  /** Input rows. */
  rows: number
  /** Output rows: a passage each (a row with no text keeps one row, its text null). */
  passages: number
  bytes: number
}

/**
 * Writes `source` again with a row per passage of its text column (passagesOf): every other
 * column's value repeated for each passage of its row, re-encoded value for value (the columns
 * cluster-rows can move: flat ones, lists of values, structs of them), then PASSAGE_ROW and
 * PASSAGE_NUMBER. A row without text stays one row, its text as it was. Memory: a block of the
 * input (~16 MiB of its text) and a row group of passages. `onProgress`: input rows done.
 */
export async function writePassageRows(
  source: AsyncBuffer,
  metadata: FileMetaData,
  sink: ByteSink,
  o: PassageRowsOptions,
): Promise<PassageRowsSummary> {
  const { file, signal } = o
  const rows = Number(metadata.num_rows)
  const leaves = leafTrees(metadata)
  const names = leaves.map((tree) => tree[1]?.element.name as string)
  const textLeaf = leaves.findIndex((tree) => tree.length === 2 && tree[1]?.element.name === o.text)
  const textElement = leaves[textLeaf]?.[1]?.element
  if (!textElement)
    throw new ParquetSeekError('is not a top-level column; passages are cut from one (a struct field: select it as a column first)', {
      file,
      column: o.text,
    })
  if (textElement.type !== 'BYTE_ARRAY') throw new ParquetSeekError(`is ${textElement.type}, not text`, { file, column: o.text })
  for (const taken of [PASSAGE_ROW, PASSAGE_NUMBER])
    if (names.includes(taken)) throw new ParquetSeekError('the file has passages already (a column of that name)', { file, column: taken })
  for (const tree of leaves) {
    if (canRepage(tree)) continue
    const leaf = tree.at(-1)?.element
    const top = tree[1]?.element.name
    // a list of floats: its row's vector, which each passage would carry (and none is the passage's)
    if (tree.length === 4 && leaf && vectorElement(leaf))
      throw new ParquetSeekError(
        `is a vector column (a list of ${vectorElement(leaf)}): each passage would carry its row's vector, many times its size, and none is the passage's; cut passages from the file without it (DuckDB: SELECT * EXCLUDE (${top}))`,
        { file, column: top },
      )
    const path = tree.slice(1).map((n) => n.element.name)
    throw new ParquetSeekError(
      'cannot be copied to each passage value for value (only flat number, boolean, text, date and time columns, DECIMALs of up to 15 digits, lists of such values and structs of them can); cut passages from the file without it',
      { file, column: path.join('.') },
    )
  }
  const [root, ...rest] = metadata.schema
  if (!root) throw new ParquetSeekError('the file has no schema', { file })
  const schema: FileMetaData['schema'] = [
    { ...root, num_children: (root.num_children ?? 0) + 2 },
    ...rest,
    { name: PASSAGE_ROW, type: 'INT32', repetition_type: 'REQUIRED' },
    { name: PASSAGE_NUMBER, type: 'INT32', repetition_type: 'REQUIRED' },
  ]
  const outRoot = parquetSchema({ schema } as FileMetaData)
  const added: SchemaTree[][] = outRoot.children.slice(-2).map((c) => [outRoot, c])
  const codecs = metadata.row_groups[0]?.columns.map((c) => c.meta_data?.codec ?? 'UNCOMPRESSED') ?? []
  const groupRows = o.rowGroupRows ?? 8192
  let offset = 0
  const emit = async (bytes: Uint8Array) => {
    await sink.write(bytes)
    offset += bytes.length
  }
  await emit(PAR1)
  o.onProgress?.(0, rows)
  const rowGroups: RowGroup[] = []
  const offsetIndexes: Array<{ chunk: ColumnChunk; locations: OffsetIndex['page_locations'] }> = []
  // passages not yet written: each one's input row, number, text, and every top-level column's value in its row
  const tops = [...new Set(names)]
  const pending = { from: [] as number[], number: [] as number[], texts: [] as unknown[], values: tops.map(() => [] as unknown[]) }
  let passages = 0
  /** The first `count` pending passages as a row group. */
  const flush = async (count: number) => {
    throwIfAborted(signal)
    const groupStart = offset
    const columns: ColumnChunk[] = []
    const chunks: Array<[SchemaTree[], unknown[], (typeof codecs)[number]]> = [
      ...leaves.map((tree, c): [SchemaTree[], unknown[], (typeof codecs)[number]] => [
        tree,
        (c === textLeaf ? pending.texts : (pending.values[tops.indexOf(names[c] as string)] as unknown[])).slice(0, count),
        codecs[c] ?? 'UNCOMPRESSED',
      ]),
      [added[0] as SchemaTree[], pending.from.slice(0, count), 'LZ4_RAW'],
      [added[1] as SchemaTree[], pending.number.slice(0, count), 'LZ4_RAW'],
    ]
    for (const [tree, values, codec] of chunks) {
      const writer = new ByteWriter()
      writer.offset = offset
      const written = writeFlatChunk(writer, tree, values, codec)
      await emit(writer.getBytes())
      columns.push(written.chunk)
      offsetIndexes.push(written)
    }
    let uncompressed = 0n
    for (const c of columns) uncompressed += c.meta_data?.total_uncompressed_size ?? 0n
    rowGroups.push({
      columns,
      num_rows: BigInt(count),
      total_byte_size: uncompressed,
      total_compressed_size: BigInt(offset - groupStart),
      file_offset: BigInt(groupStart),
      ordinal: rowGroups.length,
    })
    for (const list of [pending.from, pending.number, pending.texts, ...pending.values]) list.splice(0, count)
  }
  // a block of input rows at a time, every column in the same blocks (~16 MiB of the text each),
  // values as stored (bytes stay bytes): the file is never decoded whole
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let groupStart = 0
  for (const [g, group] of metadata.row_groups.entries()) {
    const inGroup = Number(group.num_rows)
    // the text's blocks (ending where its pages begin), every column read in them
    const ranges = await rowBlocks(source, metadata, textLeaf, g, groupStart, file, signal, o.blockBytes ?? ROW_BLOCK_BYTES)
    const readers = tops.map((name) => {
      const leaf = group.columns.findIndex((c) => c.meta_data?.path_in_schema[0] === name)
      return readColumnBlocks(source, metadata, name, leaf, g, groupStart, { file, signal, rawBytes: true, ranges })
    })
    for (;;) {
      const blocks = await Promise.all(readers.map((r) => r.next()))
      const first = blocks[0]
      if (!first || first.done) break
      const values = blocks.map((b) => (b.done ? [] : b.value.values))
      for (const [i, value] of (values[tops.indexOf(o.text)] as unknown[]).entries()) {
        const text = value instanceof Uint8Array ? decoder.decode(value) : (value as string | null | undefined)
        const cut = passagesOf(text, o)
        // a row without text: one row, its text as it was
        for (const [n, p] of (cut.length ? cut : [undefined]).entries()) {
          pending.from.push(first.value.rowStart + i)
          pending.number.push(n)
          pending.texts.push(p === undefined ? value : encoder.encode(p))
          for (const [t, column] of values.entries()) pending.values[t]?.push(column[i])
        }
        passages += cut.length || 1
      }
      while (pending.from.length >= groupRows) await flush(groupRows)
      o.onProgress?.(first.value.rowEnd, rows)
    }
    groupStart += inGroup
  }
  if (pending.from.length) await flush(pending.from.length)
  for (const { chunk, locations } of offsetIndexes) {
    const bytes = offsetIndexBytes(locations)
    chunk.offset_index_offset = BigInt(offset)
    chunk.offset_index_length = bytes.length
    await emit(bytes)
  }
  const footer = new ByteWriter()
  writeFooter(footer, {
    version: metadata.version,
    schema,
    num_rows: BigInt(passages),
    row_groups: rowGroups,
    key_value_metadata: (metadata.key_value_metadata ?? []).filter((kv) => !kv.key.startsWith('parquetseek.')),
    created_by: metadata.created_by,
  } as FileMetaData)
  await emit(footer.getBytes())
  await emit(PAR1)
  return { rows, passages, bytes: offset }
}
