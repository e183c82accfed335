import { basename } from 'node:path'
import { loadIndexHead, locateIndex } from '../index/locate.js'
import { fileSource } from '../io/nodeFile.js'
import { findEmbeddingColumns, summarizeColumns } from '../parquet/embedding.js'
import { readMetadata } from '../parquet/footer.js'
import { ROW_COLUMN } from '../parquet/permute.js'
import { parse, UsageError } from './args.js'
import { fmtBytes } from './progress.js'

export const infoUsage = `parquetseek info <file.parquet> [--json]
  prints the schema, row count, vector columns and, when present, the index parameters`

export async function infoCommand(argv: string[]): Promise<void> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' }, debug: { type: 'boolean' } })
  const [input, ...extra] = positionals
  if (!input || extra.length) throw new UsageError(`expected one file\n${infoUsage}`)
  const source = await fileSource(input)
  try {
    const file = basename(input)
    const metadata = await readMetadata(source, file)
    const columns = summarizeColumns(metadata)
    const location = locateIndex(metadata, source.byteLength, file)
    const head = location ? await loadIndexHead(source, location, file) : undefined
    const sizes = head?.directory.map((d) => d.count) ?? []
    const info = {
      file: input,
      bytes: source.byteLength,
      rows: Number(metadata.num_rows),
      rowGroups: metadata.row_groups.length,
      createdBy: metadata.created_by,
      columns,
      vectorColumns: findEmbeddingColumns(metadata).map((c) => c.name),
      index:
        head && location
          ? {
              column: location.column,
              /** Index format (docs/FORMAT.md): 5, or 1–4 for files indexed before v5 (still searched). */
              format: head.trailer.version,
              offset: location.offset,
              bytes: location.length,
              ...location.params,
              listSizes: { min: Math.min(...sizes), max: Math.max(...sizes), mean: sizes.reduce((n, s) => n + s, 0) / sizes.length },
              /** Rows also stored in a second list (docs/FORMAT.md, spilled rows). */
              spilledRows: head.directory.reduce((n, e) => n + e.spilled, 0),
            }
          : null,
    }
    if (values.json) {
      process.stdout.write(`${JSON.stringify(info)}\n`)
      return
    }
    const lines = [
      `${input}: ${info.rows} rows in ${info.rowGroups} row groups, ${fmtBytes(info.bytes)}${info.createdBy ? `, written by ${info.createdBy}` : ''}`,
      'columns:',
      ...columns.map(
        (c) =>
          `  ${c.name}: ${c.type}${c.logicalType && c.logicalType !== c.type ? ` (${c.logicalType})` : ''}${c.nullable ? '' : ' not null'}`,
      ),
      `vector columns: ${info.vectorColumns.join(', ') || 'none'}`,
    ]
    if (info.index) {
      const i = info.index as Record<string, unknown>
      lines.push(
        `index (format v${i.format}): column ${i.column}, ${i.metric}, dim ${i.dim}, nlist ${i.nlist}, m ${i.m}×${i.nbits} bits, ${i.indexedRows} of ${i.rows} rows indexed`,
        `  ${fmtBytes(location?.length ?? 0)} at byte ${location?.offset}; list sizes ${info.index.listSizes.min}…${info.index.listSizes.max} (mean ${info.index.listSizes.mean.toFixed(1)})`,
        i.clustered === true
          ? `  rows stored list by list (index --cluster-rows); each row's number in the input is in column ${ROW_COLUMN}`
          : '  rows in the input order',
        info.index.spilledRows
          ? `  ${info.index.spilledRows} rows also in a second list (spilled: a query finds them in fewer lists)`
          : '  each row in one list',
      )
    } else lines.push('index: none (build one with parquetseek index)')
    process.stdout.write(`${lines.join('\n')}\n`)
  } finally {
    await source.close()
  }
}
