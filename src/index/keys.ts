/** Footer key-value entries that locate the index (DESIGN.md §2). */
export const FORMAT_VERSION = '1'
export const KV = {
  version: 'parquetseek.version',
  column: 'parquetseek.column',
  offset: 'parquetseek.index.offset',
  length: 'parquetseek.index.length',
  params: 'parquetseek.params',
} as const
