import type { FileMetaData } from 'hyparquet'

/** Footer key-value entries that locate the index (DESIGN.md §2). */
/** 5: spilled rows; 4: one-byte codebooks; 3: list entries that store only what rows stored list by list do not imply; 2: one-byte centroids (blob.ts). Files saying 1 to 4 are still read. */
export const FORMAT_VERSION = '5'
export const KV = {
  version: 'parquetseek.version',
  column: 'parquetseek.column',
  offset: 'parquetseek.index.offset',
  length: 'parquetseek.index.length',
  params: 'parquetseek.params',
  /** The model that made the vectors (src/encode/encoders.ts): enables text queries. */
  model: 'parquetseek.model',
} as const

/** pq-vector's footer key: where its IVF-flat index starts (search/pqVector.ts reads such files). */
export const PQ_VECTOR_KEY = 'pq_vector_index_offset'

/**
 * The columns a file of passages (embed --passages, passages.ts) has besides the input's: the
 * input row a passage comes from, and its place in that row's text (from 0). Here, not in
 * passages.ts, so the page's first screen can name them without the writer.
 */
export const PASSAGE_ROW = 'parquetseek_doc'
export const PASSAGE_NUMBER = 'parquetseek_passage'

/** A footer key-value entry's value, if the file has one. */
export function footerValue(metadata: FileMetaData, key: string): string | undefined {
  return metadata.key_value_metadata?.find((kv) => kv.key === key)?.value ?? undefined
}
