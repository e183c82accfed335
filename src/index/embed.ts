import type { AsyncBuffer, FileMetaData } from 'hyparquet'
import { columnEncoder, encodeEach, encoderFor, type QueryEncoder } from '../encode/encoders.js'
import { ParquetSeekError, throwIfAborted } from '../errors.js'
import { type FileInput, readable, TAKES_FILE } from '../io/blobSource.js'
import { localEnds } from '../io/local.js'
import { type ByteSink, MemorySink } from '../io/sink.js'
import { fromBytes } from '../io/source.js'
import { type ColumnBlock, readColumnBlocks, summarizeColumns } from '../parquet/embedding.js'
import { readMetadata } from '../parquet/footer.js'
import { type PlainLeaf, plainLeaves, valueAt } from '../parquet/leaves.js'
import { writeIndexed } from '../parquet/writeIndexed.js'
import { KV } from './keys.js'
import { DEFAULT_PASSAGE_WORDS, type PassageOptions, writePassageRows } from './passages.js'

export interface EmbedOptions {
  /** The text column to embed. */
  text: string
  /**
   * The encoder, or a registered model's name (`use-lite-512`, `parquetseek/hash-ngram-v1:256`):
   * by name, on `threads` threads where the model has a pool (Node: use-lite-512), stopped after.
   */
  encoder: QueryEncoder | string
  /** With the encoder by name: threads embedding at once, each with the model (default 1; Node: defaultThreads()). */
  threads?: number
  /** The new column's name (default `embedding`). */
  as?: string
  /** Store the vectors as half floats (FLOAT16): half the bytes, values rounded to 11 significant bits. */
  float16?: boolean
  /** Cut each text into passages first, a row each (passages.ts): a long text is then found by any of its parts, not only by its beginning. */
  passages?: PassageOptions
  /** Texts per encoder call (default 256). */
  batch?: number
  file?: string
  signal?: AbortSignal
  /** Rows embedded of all (with passages: of all passages). */
  onProgress?: (done: number, total: number) => void
  /** With passages: input rows cut of all, while they are cut (before any is embedded). */
  onPassages?: (done: number, total: number) => void
}

export interface EmbedSummary {
  /** Rows written: with passages, one a passage. */
  rows: number
  /** With passages: the input's rows, and the words a passage holds at most. */
  passages?: { rows: number; words: number }
  /** Rows that got a vector. */
  embedded: number
  /** Rows whose text was null, empty, only spaces, or refused by the encoder (no words): no vector (null in the new column). */
  empty: number
  text: string
  column: string
  encoder: string
  dim: number
  outputBytes: number
  ms: number
}

/**
 * Writes `input` again (to `output`; in Node both may be paths, as for buildIndex) with one more column: the text column `o.text` embedded by `o.encoder`,
 * a nullable LIST<FLOAT> named `o.as`, one vector per page, and the encoder's name in the footer
 * (`parquetseek.model`) so text queries use the same model. Every other column is copied byte for
 * byte (large chunks of a local file in slices). 16,384 rows at a time, so memory stays at that
 * many rows' text and vectors (a large text chunk of a local file: its pages walked first). The output
 * is ready for `buildIndex` (which `index --embed-text` runs next).
 */
export async function embedTextColumn(
  input: AsyncBuffer | FileInput | string,
  output: ByteSink | string,
  o: EmbedOptions,
): Promise<EmbedSummary> {
  const { input: given, sink, done } = await localEnds(input, output, 'embedTextColumn')
  // (an encoder by name is this call's to stop: a pool's threads)
  const named = typeof o.encoder === 'string' ? columnEncoder(o.encoder, o.threads) : undefined
  try {
    const encoder = named ?? (typeof o.encoder === 'string' ? undefined : o.encoder)
    if (!encoder)
      throw new ParquetSeekError(
        `no encoder for the model "${o.encoder}" in this build (use-lite-512, parquetseek/hash-ngram-v1:<dim>, or one registerEncoder adds)`,
      )
    return await embedColumn(readable(given, 'embedTextColumn', TAKES_FILE), sink, { ...o, encoder })
  } catch (e) {
    await sink.abort() // (safe twice: embedColumn aborts what it began)
    throw e
  } finally {
    if (named !== encoderFor(o.encoder as string)) named?.close?.() // (a pool; the model's own encoder is shared)
    await done()
  }
}

async function embedColumn(source: AsyncBuffer, sink: ByteSink, o: EmbedOptions & { encoder: QueryEncoder }): Promise<EmbedSummary> {
  const started = performance.now()
  if (o.passages) {
    // the passages' file in memory first (a row per passage), then embedded as any file is
    const cut = new MemorySink()
    let rows: number
    try {
      const metadata = await readMetadata(source, o.file)
      // a name the file does not have is a missing column, as below (not taken for a struct's field)
      if (!textColumnsOf(metadata).includes(o.text) && !summarizeColumns(metadata).some((c) => c.name === o.text))
        throw new ParquetSeekError(`no such column to embed; the text columns are: ${textColumnsOf(metadata).join(', ') || '(none)'}`, {
          file: o.file,
          column: o.text,
        })
      rows = (
        await writePassageRows(source, metadata, cut, {
          ...o.passages,
          text: o.text,
          file: o.file,
          signal: o.signal,
          onProgress: o.onPassages,
        })
      ).rows
      await cut.commit()
    } catch (e) {
      await sink.abort()
      throw e
    }
    const summary = await embedColumn(fromBytes(cut.bytes as Uint8Array, o.file ?? 'passages'), sink, { ...o, passages: undefined })
    return { ...summary, passages: { rows, words: o.passages.words ?? DEFAULT_PASSAGE_WORDS }, ms: performance.now() - started }
  }
  try {
    const metadata = await readMetadata(source, o.file)
    const columns = summarizeColumns(metadata)
    const as = o.as ?? 'embedding'
    // a top-level column, or a text field of structs by its dotted path (`meta.title`)
    const field = columns.some((c) => c.name === o.text) ? undefined : structFields(metadata).find((l) => l.name === o.text)
    const text = columns.find((c) => c.name === o.text) ?? (field && summarizeLeaf(field))
    if (!text) {
      const strings = textColumnsOf(metadata)
      throw new ParquetSeekError(`no such column to embed; the text columns are: ${strings.length ? strings.join(', ') : '(none)'}`, {
        file: o.file,
        column: o.text,
      })
    }
    if (!isText(text))
      throw new ParquetSeekError(`is ${text.logicalType ?? text.type}, not text (a BYTE_ARRAY STRING/UTF8 column)`, {
        file: o.file,
        column: o.text,
      })
    if (columns.some((c) => c.name === as))
      throw new ParquetSeekError(`the file already has a column named "${as}"; name the new one with --as`, { file: o.file, column: as })
    const batch = o.batch ?? 256
    const rows = Number(metadata.num_rows)
    // bytes without a STRING annotation are taken as text (older writers leave it out), unless
    // they are no UTF-8: an image or a hash, whose "words" would be embedded as noise
    const unannotated = !text.logicalType
    let embedded = 0
    let empty = 0
    let done = 0
    // the text a block at a time (readColumnBlocks: blocks of its own size, ending where its pages
    // begin; over HTTP a chunk without an offset index read once), served in the runs of rows the
    // added column is asked for in
    const top = field?.path[0] ?? o.text
    const textPath = (field?.path ?? [o.text]).join('.')
    async function* textBlocks() {
      let groupStart = 0
      for (const [g, group] of metadata.row_groups.entries()) {
        const leaf = group.columns.findIndex((c) => c.meta_data?.path_in_schema.join('.') === textPath)
        yield* readColumnBlocks(source, metadata, top, leaf, g, groupStart, { file: o.file, signal: o.signal })
        groupStart += Number(group.num_rows)
      }
    }
    const blocks = textBlocks()
    let block: ColumnBlock | undefined
    const nextBlock = async (at: number) => {
      const next = await blocks.next()
      if (next.done) throw new Error(`text of row ${at} asked for past the file's rows`)
      block = next.value
      return next.value
    }
    const readText = async (start: number, end: number): Promise<unknown[]> => {
      let current = block
      while (!current || current.rowEnd <= start) current = await nextBlock(start)
      let out: unknown[] = []
      for (;;) {
        out = out.concat(
          current.values.slice(Math.max(start, current.rowStart) - current.rowStart, Math.min(end, current.rowEnd) - current.rowStart),
        )
        if (current.rowEnd >= end) break
        current = await nextBlock(current.rowEnd)
      }
      if (out.length !== end - start) throw new Error(`${out.length} texts for rows ${start}…${end - 1}`)
      return out
    }
    const written = await writeIndexed({
      source,
      metadata,
      sink,
      file: o.file,
      signal: o.signal,
      added: {
        name: as,
        float16: o.float16,
        values: async (start, end) => {
          const read = await readText(start, end)
          const values = field ? read.map((v) => valueAt(v, field.path, 1)) : read
          const out: Array<Float32Array | null> = new Array(values.length).fill(null)
          const todo: number[] = []
          for (const [i, v] of values.entries()) {
            if (v !== null && v !== undefined && typeof v !== 'string')
              throw new ParquetSeekError(`row ${start + i} holds ${typeof v}, not text`, { file: o.file, column: o.text, row: start + i })
            if (unannotated && typeof v === 'string' && v.includes('\uFFFD'))
              throw new ParquetSeekError('holds bytes that are not UTF-8 text (binary data, not words to embed)', {
                file: o.file,
                column: o.text,
                row: start + i,
              })
            if (typeof v === 'string' && v.trim()) todo.push(i)
            else empty++
          }
          for (let b = 0; b < todo.length; b += batch) {
            throwIfAborted(o.signal)
            const picked = todo.slice(b, b + batch)
            const vectors = await encodeEach(
              o.encoder,
              picked.map((i) => values[i] as string),
            )
            for (const [j, i] of picked.entries()) {
              const v = vectors[j]
              if (v === null) {
                empty++
                continue
              }
              if (v?.length !== o.encoder.dim)
                throw new ParquetSeekError(`the encoder ${o.encoder.id} gave ${v?.length ?? 'no'} numbers for a ${o.encoder.dim}-d model`, {
                  file: o.file,
                  row: start + i,
                })
              out[i] = v
            }
            embedded += vectors.filter((v) => v !== null).length
            o.onProgress?.(done + (picked.at(-1) ?? 0) + 1, rows)
          }
          done += values.length
          o.onProgress?.(done, rows)
          return out
        },
      },
      keyValues: () => [{ key: KV.model, value: o.encoder.id }],
    })
    await sink.commit()
    return {
      rows,
      embedded,
      empty,
      text: o.text,
      column: as,
      encoder: o.encoder.id,
      dim: o.encoder.dim,
      outputBytes: written.bytes,
      ms: performance.now() - started,
    }
  } catch (e) {
    await sink.abort()
    throw e
  }
}

/** Fields of structs (not in a list or a map), by dotted path. */
const structFields = (metadata: FileMetaData) => [...plainLeaves(metadata).plain.values()].filter((l) => l.path.length > 1)

/** A struct field as `summarizeColumns` gives a column. */
const summarizeLeaf = (l: PlainLeaf) => ({
  name: l.name,
  type: String(l.element.type),
  logicalType: l.element.logical_type?.type ?? l.element.converted_type,
})

/** The columns a file's text can be embedded from: top-level ones, then structs' text fields by dotted path (`meta.title`). */
export function textColumnsOf(metadata: FileMetaData): string[] {
  return [...summarizeColumns(metadata), ...structFields(metadata).map(summarizeLeaf)].filter(isText).map((c) => c.name)
}

/** Whether a top-level column (as `summarizeColumns` gives it) holds text that can be embedded. */
export function isText(c: { type: string; logicalType: string | undefined }): boolean {
  return c.type === 'BYTE_ARRAY' && (c.logicalType === 'STRING' || c.logicalType === 'UTF8' || c.logicalType === 'JSON' || !c.logicalType)
}
