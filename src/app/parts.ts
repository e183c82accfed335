/**
 * Several Parquet files opened together (picked, or a folder's) of which none is indexed yet: the
 * page indexes each into a folder, with the manifest.json that searches them as one — what
 * `parquetseek index … --out-dir` does.
 */

import type { FileInfo } from '../../workers/fileFacts.js'
import { indexedName } from '../search/dataset.js'

export interface Parts {
  /** The folder they came from, when a folder was opened. */
  folder?: string
  /** In the order of their names (their rows are numbered in this order). */
  files: File[]
  /** Each file's facts (its footer). */
  infos: FileInfo[]
  /** Files an earlier build wrote beside them (`a.indexed.parquet` beside `a.parquet`): kept where built as asked. */
  earlier: File[]
  /** The dataset open they are added to (its folder's manifest and every file of that folder). */
  into?: { manifest: File; files: File[] }
}

/**
 * The Parquet files of a folder opened with its manifest that a build has still to index into it
 * (`listed`: the names of the files it lists): `added`, those no build has added — not listed,
 * not an index a build wrote, not the input of a file listed —, and `changed`, the inputs of
 * files listed that are newer than their index.
 */
export function newInputs(files: readonly File[], listed: readonly string[]): { added: File[]; changed: File[] } {
  const added: File[] = []
  const changed: File[] = []
  const names = new Set(listed)
  const byName = new Map(files.map((f) => [f.name, f]))
  for (const f of files) {
    if (!/\.parquet$/i.test(f.name) || /\.indexed\.parquet$/i.test(f.name) || names.has(f.name)) continue
    const index = indexedName(f.name)
    if (!names.has(index)) added.push(f)
    else if ((byName.get(index)?.lastModified ?? Number.POSITIVE_INFINITY) < f.lastModified) changed.push(f)
  }
  return { added, changed }
}

/**
 * The files as the page shows them and the build panel offers them: rows and bytes of all, the
 * vector and text columns every file has (the first's order), every column name any file has
 * (a new column's name must be free in all); and, when they share neither, what differs.
 */
export function partsInfo({ infos }: Parts): { info: FileInfo; problem?: string } {
  const [first, ...rest] = infos
  if (!first) throw new Error('no files')
  const everywhere = (of: (i: FileInfo) => string[]) => of(first).filter((c) => rest.every((i) => of(i).includes(c)))
  const columns = [...first.columns]
  for (const i of rest) for (const c of i.columns) if (!columns.some((d) => d.name === c.name)) columns.push(c)
  const info: FileInfo = {
    name: rest.length ? `${first.name} and ${rest.length} more` : first.name,
    bytes: infos.reduce((n, i) => n + i.bytes, 0),
    rows: infos.reduce((n, i) => n + i.rows, 0),
    columns,
    vectorColumns: everywhere((i) => i.vectorColumns),
    textColumns: everywhere((i) => i.textColumns),
    index: undefined,
    sources: infos.map((i) => ({ name: i.name, rows: i.rows })),
    kind: 'parts',
  }
  if (info.vectorColumns.length || info.textColumns.length) return { info }
  const [column, what] = first.vectorColumns.length
    ? [first.vectorColumns[0], 'vector column']
    : first.textColumns.length
      ? [first.textColumns[0], 'text column']
      : [undefined, 'vector or text column']
  const odd =
    column === undefined ? undefined : rest.find((i) => !(what === 'vector column' ? i.vectorColumns : i.textColumns).includes(column))
  return {
    info,
    problem: odd
      ? `${odd.name} has no ${what} ${column}, as ${first.name} has: the files of one dataset need one column of one name to index.`
      : `${first.name} has no ${what} to build an index from.`,
  }
}
