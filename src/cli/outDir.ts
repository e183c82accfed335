/** `index --out-dir DIR a.parquet b.parquet …`: each input indexed alone into DIR, and DIR/manifest.json listing them, searched as one. */

import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises'
import { basename, join, resolve } from 'node:path'
import { AbortError, ParquetSeekError } from '../errors.js'
import { hubFolderPage, isHubGlob } from '../io/hub.js'
import { checkOutputPath, fileSource, readLocalFile, refuseInput } from '../io/nodeFile.js'
import { describeEmbeddingColumn } from '../parquet/embedding.js'
import { readMetadata } from '../parquet/footer.js'
import { naturalOrder } from '../search/anyIndex.js'
import {
  indexedName,
  MANIFEST,
  MAX_MANIFEST_BYTES,
  manifestFiles,
  manifestName,
  manifestText,
  manifestWith,
  renumbered,
  SeekDataset,
} from '../search/dataset.js'
import { UsageError } from './args.js'
import { count } from './progress.js'
import { hubFiles, isUrl, soleVectorColumn, withFile } from './sources.js'

/** What one input's build made, as the manifest's files must agree on it. */
export interface Built {
  rows: number
  dim: number
  metric: string
  column: string
}

export interface IndexEachOptions {
  signal: AbortSignal
  json: boolean
  /** The vector column every input must have; undefined: each input's only one (all of one name), or none (--embed-text). */
  column?: string
  /** Whether the inputs hold vectors already (not --embed-text): their columns are checked before any build. */
  vectors: boolean
  /** --update: an input whose output is there, newer (a URL's: there) and built as asked is not indexed again. */
  update: boolean
  /** How an indexed file already there differs from what this run would build (undefined: it does not). */
  builtOtherwise(output: string): Promise<string | undefined>
  /** Indexes `input` into `output` (a progress line ends with `progress`). */
  index(input: string, output: string, progress: string): Promise<Built>
}

/**
 * Each input (a folder: its Parquet files) indexed into `outDir` (`part-0.parquet` → `part-0.indexed.parquet`), then
 * `outDir/manifest.json` written: the files it listed before, in their order, then the new ones —
 * a file indexed again keeps its place, so rows already numbered keep their numbers. Everything
 * that can be checked is checked before the first build: the folder, two inputs of one name, an
 * output that is an input, each local input's vector column, the manifest there. The manifest is
 * written last, once every file it lists opens as one dataset; a failure leaves it as it was.
 * With `update`, an input whose output is there, newer and built with the options given is left as
 * it is (a run cut short, run again).
 */
export async function indexEach(given: string[], outDir: string, o: IndexEachOptions): Promise<void> {
  const inputs = (await Promise.all(given.map((g) => folderInputs(g, o.signal)))).flat()
  const dir = resolve(outDir)
  const info = await stat(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined
    throw new ParquetSeekError(`cannot use as --out-dir (${e.code ?? e.message})`, { file: outDir })
  })
  if (info && !info.isDirectory()) throw new ParquetSeekError('--out-dir is not a directory', { file: outDir })
  const names = inputs.map(outputName)
  const outputs = names.map((name) => join(outDir, name))
  for (const [i, name] of names.entries()) {
    const first = names.indexOf(name)
    if (first !== i)
      throw new UsageError(`${inputs[first]} and ${inputs[i]} would both be indexed into ${name}: give each input its own file name`)
  }
  const local = inputs.filter((input) => !isUrl(input))
  if (info) for (const output of outputs) await refuseInput(output, local)
  await checkColumns(local, o)
  const manifest = join(outDir, MANIFEST)
  const listed = info ? await listedFiles(manifest) : []
  const files = manifestWith(listed, names)

  await mkdir(dir, { recursive: true })
  await checkOutputPath(manifest)
  const built: Array<Built & { input: string }> = []
  /** Files the manifest listed, indexed again: their rows before and now (renumbered). */
  const counted = new Map<string, { before: number; now: number }>()
  let kept = 0
  let rows: number
  try {
    for (const [i, input] of inputs.entries()) {
      const output = outputs[i] as string
      if (o.update && (await upToDate(input, output))) {
        const otherwise = await o.builtOtherwise(output)
        if (!otherwise) {
          process.stderr.write(`kept ${output}: newer than ${input}\n`)
          kept++
          continue
        }
        process.stderr.write(`indexing ${input} again: ${output} ${otherwise}\n`)
      }
      const name = names[i] as string
      // (the rows of the file listed there, read before it is replaced; none that opens: unknown)
      const before = listed.some((entry) => manifestName(entry) === name)
        ? await withFile(output, async (_, metadata) => Number(metadata.num_rows)).catch(() => undefined)
        : undefined
      const b = await o.index(input, output, ` (file ${i + 1} of ${inputs.length}: ${basename(input)})`)
      if (before !== undefined) counted.set(name, { before, now: b.rows })
      const first = built[0]
      if (first && (b.dim !== first.dim || b.metric !== first.metric || b.column !== first.column))
        throw new ParquetSeekError(
          `${kind(b)}, ${first.input} ${kind(first)}: the files of one dataset need one kind of vector (${output} was written)`,
          { file: input },
        )
      built.push({ ...b, input })
    }
    rows = await writeManifest(manifest, files, o.signal)
  } catch (e) {
    if (!built.length) throw e
    const done = `indexed ${built.length} of ${count(inputs.length, 'file')} into ${outDir} (kept: --update goes on from there); ${manifest} not written`
    if (e instanceof AbortError) throw new AbortError(`cancelled; ${done}`)
    process.stderr.write(`${done}\n`)
    throw e
  }
  const moved = renumbered(listed, counted)
  if (moved) process.stderr.write(`warning: ${moved}\n`)
  const added = files.length - listed.length
  const summary = { manifest, files: files.length, added, indexed: built.length, kept, rows, ...(moved ? { renumbered: moved } : {}) }
  process.stdout.write(
    o.json
      ? `${JSON.stringify(summary)}\n`
      : `${manifest}: ${count(files.length, 'file')} (${added} added${kept ? `, ${kept} kept as they were` : ''}), ${count(rows, 'row')}, searched as one: parquetseek search ${manifest} …\n`,
  )
}

/**
 * An input as the files to index: a local folder's Parquet files, in the order of their names
 * (`part-2` before `part-10`; those `index` wrote, `.indexed.parquet`, and subfolders left out),
 * an hf:// glob's files (hubGlob), a Hub folder page's Parquet files (those named .indexed.parquet
 * left out, as from a local folder), anything else as it is.
 */
export async function folderInputs(input: string, signal?: AbortSignal): Promise<string[]> {
  if (isHubGlob(input)) return hubFiles(input, signal)
  const hubFolder = hubFolderPage(input)
  let names: string[]
  if (hubFolder) names = await hubFiles(`${hubFolder}*.parquet`, signal)
  else if (isUrl(input) || !(await stat(input).catch(() => undefined))?.isDirectory()) return [input]
  else {
    const entries = await readdir(input, { withFileTypes: true })
    names = naturalOrder(entries.filter((e) => e.isFile() && /\.parquet$/i.test(e.name))).map((e) => join(input, e.name))
  }
  const files = names.filter((f) => !/\.indexed\.parquet$/i.test(f))
  if (!files.length)
    throw new ParquetSeekError('is a folder with no Parquet file to index (those named .indexed.parquet are left out)', { file: input })
  return files
}

/** --update: `output` is there, and newer than `input` (a URL's file is not asked when it changed: its output being there is enough). */
async function upToDate(input: string, output: string): Promise<boolean> {
  const made = await stat(output).catch(() => undefined)
  if (!made?.isFile()) return false
  if (isUrl(input)) return true
  const given = await stat(input)
  return given.mtimeMs <= made.mtimeMs
}

/** The file an input is indexed into: its name, `.parquet` becoming `.indexed.parquet`. */
export function outputName(input: string): string {
  let name = basename(input)
  if (isUrl(input)) {
    try {
      name = decodeURIComponent(basename(new URL(input).pathname))
    } catch {}
  }
  return indexedName(name)
}

const kind = (b: Built) => `${b.dim}-d ${b.metric} vectors in column ${b.column}`

/** Each local input's vector column there (the one named, or its only one: the same name in all), before anything is built. */
async function checkColumns(local: string[], o: IndexEachOptions): Promise<void> {
  let sole: { column: string; file: string } | undefined
  for (const path of local) {
    const source = await fileSource(path)
    try {
      const metadata = await readMetadata(source, path)
      if (!o.vectors) continue
      if (o.column !== undefined) {
        describeEmbeddingColumn(metadata, o.column, path)
        continue
      }
      const column = soleVectorColumn(metadata, path, 'to index')
      if (sole && column !== sole.column)
        throw new UsageError(`${path}'s vector column is ${column}, ${sole.file}'s ${sole.column}: give --column, one for every file`)
      sole ??= { column, file: path }
    } finally {
      await source.close()
    }
  }
}

/** The entries of the manifest already there, or none. */
async function listedFiles(manifest: string): Promise<string[]> {
  // (read as the library reads a manifest: at most MAX_MANIFEST_BYTES)
  if (!(await stat(manifest).catch(() => undefined))) return []
  return manifestFiles(await readLocalFile(manifest, MAX_MANIFEST_BYTES), manifest)
}

/**
 * `files` written as the manifest, under a temporary name first: it replaces the manifest only once
 * it opens as a dataset, as a search opens it (every file there, one dimension and metric). Its rows.
 */
async function writeManifest(manifest: string, files: string[], signal: AbortSignal): Promise<number> {
  const temp = `${manifest}.${process.pid}.tmp.json`
  try {
    await writeFile(temp, manifestText(files), { flag: 'wx' })
    const dataset = await SeekDataset.fromManifest(temp, { signal })
    dataset.close()
    await rename(temp, manifest)
    return dataset.rows
  } finally {
    await rm(temp, { force: true })
  }
}
