import type { AsyncBuffer, FileMetaData } from 'hyparquet'
import { textColumnsOf } from '../src/index/embed.js'
import { footerValue, KV } from '../src/index/keys.js'
import { loadIndexHead, locateIndex } from '../src/index/locate.js'
import { type ColumnSummary, findEmbeddingColumns, summarizeColumns } from '../src/parquet/embedding.js'
import { readMetadata } from '../src/parquet/footer.js'

export interface FileInfo {
  name: string
  bytes: number
  rows: number
  columns: ColumnSummary[]
  vectorColumns: string[]
  /** Text columns and structs' text fields: what a file without vectors can be embedded from. */
  textColumns: string[]
  /** The embedding model the file names (footer key parquetseek.model), if any. */
  model?: string
  /** A sidecar's or a manifest's files that name different models: which, and that text queries are off. */
  modelProblem?: string
  index:
    | {
        column: string
        bytes: number
        params: Record<string, unknown>
        lists: number
        /**
         * A manifest's files' own settings, least and most over the files (each is its own index:
         * a query probes nprobe of each file's nlist lists); `params` are the first file's.
         */
        eachFile?: { nlist: Span; nprobe?: Span }
      }
    | undefined
  /** A sidecar index's files, or a manifest's, in the order their rows are numbered (`bytes`: theirs together). */
  sources?: Array<{ name: string; rows: number }>
  /**
   * With `sources`: a manifest of indexed files, or several picked together (`files`) — each its
   * own index; `index` the first's params, `lists` all of theirs —, several files none of which is
   * indexed yet (`parts`: the page offers to index them as one dataset), else a sidecar.
   */
  kind?: 'manifest' | 'files' | 'parts'
}

/** The least and the most of a setting over a manifest's files. */
export type Span = readonly [number, number]

export function spanOf(values: number[]): Span {
  return [Math.min(...values), Math.max(...values)]
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
