import { basename } from 'node:path'
import { ParquetSeekError } from '../errors.js'
import { PASSAGE_NUMBER, PASSAGE_ROW } from '../index/keys.js'
import { loadIndexHead, locateIndex, openBytesOf } from '../index/locate.js'
import type { IndexParams } from '../index/model.js'
import { MODEL_MAGIC, PART_MAGIC } from '../index/partitioned.js'
import { SIDECAR_MAGIC } from '../index/sidecarFile.js'
import { findEmbeddingColumns, summarizeColumns } from '../parquet/embedding.js'
import { readMetadata } from '../parquet/footer.js'
import { plainLeaves } from '../parquet/leaves.js'
import { ROW_COLUMN } from '../parquet/permute.js'
import { isManifestAddress } from '../search/dataset.js'
import type { SeekIndex } from '../search/engine.js'
import { isSidecarAddress } from '../search/sidecarIndex.js'
import { parse, UsageError } from './args.js'
import { count, fmtBytes } from './progress.js'
import { anySource, folderTargets, openManifest, openSidecar } from './sources.js'

export const infoUsage = `parquetseek info <file.parquet|url|sidecar.pqseek|manifest.json …> [--json] [--allow-source P]
  a Parquet file: the schema, row count, vector columns and, when present, the index parameters;
  a sidecar or a manifest: the index parameters and each file it covers (every file opened and checked;
  --allow-source as for search); several (parts/*.parquet): each in turn (--json: one line each)`

export async function infoCommand(argv: string[]): Promise<void> {
  const { values, positionals: given } = parse(argv, {
    json: { type: 'boolean' },
    debug: { type: 'boolean' },
    'allow-source': { type: 'string', multiple: true },
  })
  // (a folder: the dataset its manifest.json lists)
  const positionals = await folderTargets(given)
  if (!positionals.length) throw new UsageError(`expected a file\n${infoUsage}`)
  const info = (input: string) =>
    isSidecarAddress(input) || isManifestAddress(input)
      ? infoOfMany(input, values.json === true, values['allow-source'])
      : infoOfFile(input, values.json === true)
  if (positionals.length === 1) return info(positionals[0] as string)
  // several (a shell glob's): each in turn, a blank line between (--json: a line each); one that
  // cannot be read is said on stderr and the rest still shown, the exit status 1 at the end
  const failed: string[] = []
  for (const [i, input] of positionals.entries()) {
    if (i && !values.json) process.stdout.write('\n')
    try {
      await info(input)
    } catch (e) {
      if (!(e instanceof ParquetSeekError)) throw e
      process.stderr.write(`parquetseek info: ${e.message.split('\n')[0]}\n`)
      failed.push(input)
    }
  }
  if (failed.length)
    throw new ParquetSeekError(`${count(failed.length, 'file')} of ${positionals.length} could not be read (${failed.join(', ')})`)
}

/** One Parquet file: its schema, rows, vector columns and index. */
async function infoOfFile(input: string, json: boolean): Promise<void> {
  const source = await anySource(input)
  try {
    const file = basename(input)
    const metadata = await readMetadata(source, file).catch(async (e) => {
      // the other files of a sharded build: say what they are rather than "not a Parquet file"
      const magic = new TextDecoder().decode(await source.slice(0, Math.min(source.byteLength, 16)))
      for (const [start, what] of [
        [MODEL_MAGIC, 'a model (parquetseek train), which encode and merge read'],
        [PART_MAGIC, 'a part (parquetseek encode), which merge reads'],
        [SIDECAR_MAGIC, 'a sidecar index: name it with the .pqseek extension'],
      ] as const)
        if (magic.startsWith(start))
          throw new ParquetSeekError(`${what}; info reads Parquet files, sidecars (.pqseek) and manifests (.json)`, { file: input })
      throw e
    })
    const columns = summarizeColumns(metadata)
    const { plain } = plainLeaves(metadata)
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
              /**
               * The file's last bytes a search opens with (the index head — centroids, codebooks,
               * list directory — and the footer): `tailBytes` to open in one read.
               */
              openBytes: openBytesOf(source.byteLength, location, head.trailer),
              centroidBytes: head.trailer.sections.centroids.length,
              /** Rows also stored in a second list (docs/FORMAT.md, spilled rows). */
              spilledRows: head.directory.reduce((n, e) => n + e.spilled, 0),
            }
          : null,
    }
    if (json) {
      process.stdout.write(`${JSON.stringify(info)}\n`)
      return
    }
    const lines = [
      `${input}: ${count(info.rows, 'row')} in ${count(info.rowGroups, 'row group')}, ${fmtBytes(info.bytes)}${info.createdBy ? `, written by ${info.createdBy}` : ''}`,
      'columns:',
      ...columns.map((c) => {
        // a struct's fields by the dotted names --where and --embed-text take
        const fields = c.type === 'GROUP' ? [...plain.keys()].filter((k) => k.startsWith(`${c.name}.`)) : []
        return (
          `  ${c.name}: ${c.type}${c.logicalType && c.logicalType !== c.type ? ` (${c.logicalType})` : ''}${c.element ? ` of ${c.element}` : ''}${c.nullable ? '' : ' not null'}` +
          (fields.length ? ` — fields ${fields.join(', ')}` : '')
        )
      }),
      `vector columns: ${info.vectorColumns.join(', ') || 'none'}`,
    ]
    if (info.columns.some((c) => c.name === PASSAGE_ROW))
      lines.push(
        `rows are passages of longer texts (embed --passages): the input row in ${PASSAGE_ROW}, the place in its text in ${PASSAGE_NUMBER}; search --distinct ${PASSAGE_ROW} returns one a text`,
      )
    if (info.index) {
      const i = info.index as Record<string, unknown>
      lines.push(
        `index (format v${i.format}): column ${i.column}, ${i.metric}, dim ${i.dim}, nlist ${i.nlist}, m ${i.m}×${i.nbits} bits, ${i.indexedRows} of ${i.rows} rows indexed`,
        `  ${fmtBytes(location?.length ?? 0)} at byte ${location?.offset}; list sizes ${info.index.listSizes.min}…${info.index.listSizes.max} (mean ${info.index.listSizes.mean.toFixed(1)})`,
        `  a search opens with the file's last ${fmtBytes(info.index.openBytes)} (footer and index head; the centroids ${fmtBytes(info.index.centroidBytes)})`,
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

/** A sidecar's or a manifest's index and files, each file opened and checked as a search would. */
async function infoOfMany(input: string, json: boolean, allow: string[] | undefined): Promise<void> {
  const context = { signal: new AbortController().signal, allow, compute: { backend: 'js' as const } }
  let opened: { close(): void } | undefined
  try {
    const sidecar = isSidecarAddress(input)
    const files: Array<{ name: string; rows: number; bytes: number }> = []
    let params: IndexParams
    let column: string
    let vectors: number | undefined
    if (sidecar) {
      // (every file opened and checked, as info says)
      const index = await openSidecar(input, context, { every: true })
      opened = index
      for (const w of index.warnings) process.stderr.write(`warning: ${w}\n`)
      params = index.model.params
      column = index.header.column
      vectors = index.header.vectors?.length
      for (const s of index.sources) files.push({ name: s.name, rows: s.rows, bytes: s.size })
    } else {
      const dataset = await openManifest(input, context)
      opened = dataset
      const first = dataset.shards[0] as SeekIndex
      params = first.params
      column = first.opened.column.name
      for (const [i, shard] of dataset.shards.entries())
        files.push({ name: dataset.names[i] as string, rows: shard.rows, bytes: shard.opened.cached.byteLength })
    }
    const rows = files.reduce((n, f) => n + f.rows, 0)
    const kind = sidecar ? 'sidecar' : 'manifest'
    if (json) {
      process.stdout.write(
        `${JSON.stringify({ file: input, kind, rows, column, ...(sidecar ? { index: params } : {}), ...(vectors ? { vectorsBytes: vectors } : {}), files })}\n`,
      )
      return
    }
    const lines = [
      sidecar
        ? `${input}: a sidecar index over ${count(files.length, 'file')}, ${rows} rows`
        : `${input}: a manifest of ${files.length} indexed files, ${rows} rows`,
      sidecar
        ? `index: column ${column}, ${params.metric}, dim ${params.dim}, nlist ${params.nlist}, m ${params.m}×${params.nbits} bits, ${params.indexedRows} of ${params.rows} rows indexed, default nprobe ${params.nprobe}, refine ${params.refine}${vectors ? `; the vectors copied in (${fmtBytes(vectors)}): candidates refined from the sidecar` : ''}`
        : `each its own index on column ${column}, ${params.metric}, dim ${params.dim} (parquetseek info FILE for one)`,
      'files:',
      ...files.map((f) => `  ${f.name}: ${f.rows} rows, ${fmtBytes(f.bytes)}`),
    ]
    process.stdout.write(`${lines.join('\n')}\n`)
  } finally {
    opened?.close()
  }
}
