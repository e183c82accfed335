import type { AsyncBuffer, FileMetaData } from 'hyparquet'
import { textColumnsOf } from '../src/index/embed.js'
import { footerValue, KV } from '../src/index/keys.js'
import { loadIndexHead, locateIndex } from '../src/index/locate.js'
import { findEmbeddingColumns, summarizeColumns } from '../src/parquet/embedding.js'
import { readMetadata } from '../src/parquet/footer.js'

export interface FileInfo {
  name: string
  bytes: number
  rows: number
  columns: Array<{ name: string; type: string }>
  vectorColumns: string[]
  /** Text columns and structs' text fields: what a file without vectors can be embedded from. */
  textColumns: string[]
  /** The embedding model the file names (footer key parquetseek.model), if any. */
  model?: string
  index: { column: string; bytes: number; params: Record<string, unknown>; lists: number } | undefined
  /** A sidecar index's files, or a manifest's, in the order their rows are numbered (`bytes`: theirs together). */
  sources?: Array<{ name: string; rows: number }>
  /** With `sources`: a manifest of indexed files (each its own index; `index` the first's params, `lists` all of theirs), else a sidecar. */
  kind?: 'manifest'
}

/** What the page shows about a file: footer only, plus the index's tail sections when present. */
export async function inspect(source: AsyncBuffer, name: string): Promise<{ info: FileInfo; metadata: FileMetaData }> {
  const metadata = await readMetadata(source, name)
  const location = locateIndex(metadata, source.byteLength, name)
  const head = location ? await loadIndexHead(source, location, name) : undefined
  const info: FileInfo = {
    name,
    bytes: source.byteLength,
    rows: Number(metadata.num_rows),
    columns: summarizeColumns(metadata),
    textColumns: textColumnsOf(metadata),
    vectorColumns: findEmbeddingColumns(metadata).map((c) => c.name),
    model: footerValue(metadata, KV.model),
    index:
      location && head
        ? { column: location.column, bytes: location.length, params: location.params, lists: head.directory.length }
        : undefined,
  }
  return { info, metadata }
}
