import { dirname, relative, resolve } from 'node:path'
import { BACKEND_CHOICES, loadKernels } from '../compute/backend.js'
import { defaultThreads, spawnNodeKernelWorker } from '../compute/nodePool.js'
import { withPool } from '../compute/pool.js'
import { ParquetSeekError } from '../errors.js'
import type { BuildProgress } from '../index/build.js'
import { METRICS } from '../index/model.js'
import {
  buildShared,
  type EncodedPart,
  encodePart,
  mergeParts,
  modelFileBytes,
  type NamedSource,
  partFileBytes,
  readModelFile,
  readPartFile,
  type SharedOptions,
  sidecarVectors,
  trainShared,
} from '../index/partitioned.js'
import { footerHash, writeSidecar } from '../index/sidecarFile.js'
import { fileUrl } from '../io/fileUrl.js'
import { checkOutputPath, fileSink, readLocalFile } from '../io/nodeFile.js'
import { readMetadata } from '../parquet/footer.js'
import { checkDistinct } from '../search/dataset.js'
import { SidecarIndex } from '../search/sidecarIndex.js'
import { choice, intOption, parse, UsageError } from './args.js'
import { count, fmtBytes, progressPrinter } from './progress.js'
import { anySource, isUrl, soleVectorColumn } from './sources.js'

const common = `  --backend auto|wasm|js   CPU kernels (default auto)
  --threads N          threads (default: the cores, ≤ 8); same output
  --json               one JSON summary on stdout`

export const sharedUsage = `One index over many files, in steps a batch system can run apart (files are never modified):
parquetseek train <in.parquet|url …> --column <name> --out <model.pqmodel> [--metric --nlist --m --nbits --sample --seed --skip-invalid]
  one seeded sample across the given files (all of them, or a subset) → centroids and codebooks
parquetseek encode --model <model.pqmodel> <in.parquet|url> --out <part.pqpart> [--skip-invalid]
  one file's lists and codes (run one per file, in parallel anywhere)
parquetseek merge --model <model.pqmodel> --out <all.pqseek> <part.pqpart …> [--sidecar-vectors]
  the parts, in the order given, as one sidecar index (search it with parquetseek search all.pqseek);
  --sidecar-vectors also copies the parts' files' vectors into it (each file read once more)
${common}`

/** The index parameters' flags, shared by `index` and the steps. */
export const PARAM_FLAGS = {
  column: { type: 'string' },
  metric: { type: 'string' },
  nlist: { type: 'string' },
  m: { type: 'string' },
  nbits: { type: 'string' },
  sample: { type: 'string' },
  seed: { type: 'string' },
  'skip-invalid': { type: 'boolean' },
  backend: { type: 'string' },
  threads: { type: 'string' },
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
} as const

const options = { ...PARAM_FLAGS, out: { type: 'string' }, model: { type: 'string' } } as const

type Values = ReturnType<typeof parse<typeof options>>['values']
type ParamValues = ReturnType<typeof parse<typeof PARAM_FLAGS>>['values']

/** Those flags as build options, each checked (a bad value is a usage error naming the flag). */
export function paramOptions(values: ParamValues, column: string): Omit<SharedOptions, 'train' | 'onProgress'> {
  return {
    column,
    metric: choice(values.metric, 'metric', METRICS),
    nlist: intOption(values.nlist, 'nlist', 1, 1 << 20),
    m: intOption(values.m, 'm', 1, 4096),
    nbits: intOption(values.nbits, 'nbits', 1, 8),
    sample: intOption(values.sample, 'sample', 1, 1 << 26),
    seed: intOption(values.seed, 'seed', 0, 2 ** 32 - 1),
    skipInvalid: values['skip-invalid'],
  }
}

/** Kernels, worker threads, a progress line and cancellation for one step. */
async function withCompute<T>(values: Values, signal: AbortSignal, work: (o: Pick<SharedOptions, 'train' | 'onProgress'>) => Promise<T>) {
  const kernels = await loadKernels(choice(values.backend, 'backend', BACKEND_CHOICES))
  const threads = intOption(values.threads, 'threads', 1, 256) ?? defaultThreads()
  const printer = progressPrinter()
  try {
    return await withPool(threads, spawnNodeKernelWorker, kernels.name, (pool) =>
      work({
        train: { kernels, pool, signal },
        onProgress: ({ phase, done, total }: BuildProgress) => printer.update(`${phase} ${done}/${total}`),
      }),
    )
  } finally {
    printer.done()
  }
}

/** Inputs opened; each named relative to `outDir` (URLs as they are), as the output will find them. */
async function openInputs(paths: string[], outDir: string) {
  checkDistinct(paths.map((p) => (isUrl(p) ? new URL(fileUrl(p)).href : resolve(p))))
  const opened: Array<NamedSource & { close(): Promise<void> }> = []
  try {
    for (const path of paths) {
      const source = await anySource(path)
      opened.push({ name: isUrl(path) ? fileUrl(path) : relative(outDir, resolve(path)), source, close: () => source.close() })
    }
    return opened
  } catch (e) {
    for (const o of opened) await o.close()
    throw e
  }
}

/** Model and part files: read whole (a part holds n·(m + 8) bytes of codes and ids; 4 GiB is far past any). */
const readWhole = (path: string) => readLocalFile(path, 2 ** 32)

const report = (values: Values, summary: Record<string, unknown>, line: string) =>
  process.stdout.write(values.json ? `${JSON.stringify(summary)}\n` : `${line}\n`)

export async function trainCommand(argv: string[], signal: AbortSignal): Promise<void> {
  const { values, positionals } = parse(argv, options)
  if (!values.column || !values.out || !positionals.length)
    throw new UsageError(`expected <in.parquet …> --column <name> --out <model.pqmodel>\n${sharedUsage}`)
  const started = performance.now()
  const params = paramOptions(values, values.column)
  const sink = await fileSink(
    values.out,
    positionals.filter((p) => !isUrl(p)),
  )
  let inputs: Awaited<ReturnType<typeof openInputs>> = []
  try {
    inputs = await openInputs(positionals, dirname(resolve(values.out)))
    const model = await withCompute(values, signal, (compute) => trainShared(inputs, { ...params, ...compute }))
    const bytes = modelFileBytes(model)
    await sink.write(bytes)
    await sink.commit()
    const p = model.params
    report(
      values,
      {
        model: values.out,
        id: model.id,
        files: inputs.length,
        rows: p.rows,
        dim: p.dim,
        nlist: p.nlist,
        m: p.m,
        bytes: bytes.length,
        ms: Math.round(performance.now() - started),
      },
      `${values.out}: model ${model.id.slice(0, 12)} trained on ${count(p.sample, 'row')} sampled from ${p.rows} in ${count(inputs.length, 'file')} (dim ${p.dim}, ${p.metric}, nlist ${p.nlist}, m ${p.m}); ${fmtBytes(bytes.length)}`,
    )
  } catch (e) {
    await sink.abort()
    throw e
  } finally {
    for (const i of inputs) await i.close()
  }
}

export async function encodeCommand(argv: string[], signal: AbortSignal): Promise<void> {
  const { values, positionals } = parse(argv, options)
  const [input, ...extra] = positionals
  if (!values.model || !values.out || !input || extra.length)
    throw new UsageError(`expected --model <model.pqmodel> <in.parquet> --out <part.pqpart>\n${sharedUsage}`)
  const started = performance.now()
  await checkOutputPath(values.out)
  const model = await readModelFile(await readWhole(values.model), values.model)
  const [opened] = await openInputs([input], dirname(resolve(values.out)))
  const named = opened as NamedSource & { close(): Promise<void> }
  let sink: Awaited<ReturnType<typeof fileSink>> | undefined
  try {
    sink = await fileSink(values.out, isUrl(input) ? [values.model] : [input, values.model])
    const part = await withCompute(values, signal, (compute) =>
      encodePart(model, named, { skipInvalid: values['skip-invalid'], ...compute }),
    )
    const bytes = partFileBytes(part)
    await sink.write(bytes)
    await sink.commit()
    report(
      values,
      {
        part: values.out,
        file: input,
        rows: part.source.rows,
        entries: part.rowIds.length,
        skippedRows: part.invalid.length,
        bytes: bytes.length,
        ms: Math.round(performance.now() - started),
      },
      `${values.out}: ${part.rowIds.length} of ${part.source.rows} rows of ${input} encoded (${fmtBytes(bytes.length)})`,
    )
  } catch (e) {
    await sink?.abort()
    throw e
  } finally {
    await named.close()
  }
}

export async function mergeCommand(argv: string[], signal: AbortSignal): Promise<void> {
  const { values, positionals } = parse(argv, { ...options, 'sidecar-vectors': { type: 'boolean' } })
  if (!values.model || !values.out || !positionals.length)
    throw new UsageError(`expected --model <model.pqmodel> --out <all.pqseek> <part.pqpart …>\n${sharedUsage}`)
  const started = performance.now()
  await checkOutputPath(values.out)
  const model = await readModelFile(await readWhole(values.model), values.model)
  const outDir = dirname(resolve(values.out))
  const parts: EncodedPart[] = []
  /** Where each part's file is (a path, or a URL), for --sidecar-vectors. */
  const files: string[] = []
  for (const path of positionals) {
    const part = readPartFile(await readWhole(path), path, model.params.m)
    // a part names its file relative to itself; the sidecar names it relative to the sidecar
    const name = part.source.name
    files.push(isUrl(name) ? fileUrl(name) : resolve(dirname(path), name))
    parts.push({ ...part, source: { ...part.source, name: isUrl(name) ? fileUrl(name) : relative(outDir, resolve(dirname(path), name)) } })
  }
  const sink = await fileSink(values.out, [values.model, ...positionals])
  const inputs: Array<NamedSource & { close(): Promise<void> }> = []
  const header = await withCompute(values, signal, async (compute) => {
    if (values['sidecar-vectors'])
      for (const [i, file] of files.entries()) {
        const source = await anySource(file)
        inputs.push({ name: file, source, close: () => source.close() })
        // the file the part encoded, not one changed since: its vectors would be other rows'
        const encoded = parts[i]?.source
        if (source.byteLength !== encoded?.size || (await footerHash(source)) !== encoded.footerSha256)
          throw new ParquetSeekError('the file changed since its part was encoded; encode it again to copy its vectors', { file })
      }
    const merged = await mergeParts(model, parts, compute)
    const vectors = inputs.length ? sidecarVectors(inputs, merged.sources, model, compute) : undefined
    return writeSidecar(sink, { column: model.column, model, ...merged, vectors })
  })
    .catch(async (e) => {
      await sink.abort()
      throw e
    })
    .finally(async () => {
      for (const i of inputs) await i.close()
    })
  const p = header.params
  report(
    values,
    {
      sidecar: values.out,
      sources: header.sources.length,
      rows: p.rows,
      indexedRows: p.indexedRows,
      nprobe: p.nprobe,
      refine: p.refine,
      tunedRecall: p.tunedRecall,
      ms: Math.round(performance.now() - started),
    },
    `${values.out}: ${count(p.indexedRows, 'row')} of ${count(header.sources.length, 'file')}; default nprobe ${p.nprobe}, refine ${p.refine} (recall@10 ${p.tunedRecall} measured)`,
  )
}

/**
 * `index --sidecar out in…`: the three steps in one process, up to `memoryBytes` of vectors kept
 * from training to encode (each file then read once).
 */
/**
 * What a search will warn of at open (a file in large pages: each candidate costs its page), said
 * after the build, while --sidecar-vectors is one rebuild away. The sidecar is built: a failure to
 * open it here is a warning too, not the build's failure.
 */
async function warnAsSearchWould(out: string, inputs: NamedSource[]): Promise<void> {
  const sidecar = await anySource(out)
  try {
    const index = await SidecarIndex.open(sidecar, async (name) => {
      const input = inputs.find((i) => i.name === name)
      if (!input) throw new Error(`the sidecar names ${name}, which was not indexed`)
      return input.source
    })
    for (const w of index.warnings) process.stderr.write(`warning: ${w}\n`)
    index.close()
  } catch (e) {
    process.stderr.write(`warning: the sidecar is written, but opening it to check its files' pages failed: ${(e as Error).message}\n`)
  } finally {
    await sidecar.close()
  }
}

export async function sidecarIndexCommand(
  out: string,
  paths: string[],
  values: Values,
  signal: AbortSignal,
  memoryBytes: number,
  /** --sidecar-vectors: the inputs' vectors copied into the sidecar. */
  vectors = false,
): Promise<void> {
  if (!paths.length) throw new UsageError('--sidecar needs the input files')
  const started = performance.now()
  const params = paramOptions(values, values.column as string)
  const sink = await fileSink(
    out,
    paths.filter((p) => !isUrl(p)),
  )
  let inputs: Awaited<ReturnType<typeof openInputs>> = []
  try {
    inputs = await openInputs(paths, dirname(resolve(out)))
    // no --column: the first file's only vector column (every file must have it)
    const first = inputs[0] as (typeof inputs)[number]
    params.column ??= soleVectorColumn(await readMetadata(first.source, first.name), first.name, 'to index')
    const header = await withCompute(values, signal, (compute) =>
      buildShared(inputs, sink, { ...params, ...compute, memoryBytes, vectors }),
    )
    const p = header.params
    report(
      values,
      {
        sidecar: out,
        sources: header.sources.length,
        rows: p.rows,
        nlist: p.nlist,
        m: p.m,
        nprobe: p.nprobe,
        tunedRecall: p.tunedRecall,
        ...(header.vectors ? { vectorsBytes: header.vectors.length } : {}),
        buildMs: Math.round(performance.now() - started),
      },
      `indexed ${count(p.rows, 'row')} of ${count(header.sources.length, 'file')} into ${out} (nlist ${p.nlist}, m ${p.m}, default nprobe ${p.nprobe}, recall@10 ${p.tunedRecall} measured${header.vectors ? `; their vectors copied, ${(header.vectors.length / 2 ** 20).toFixed(1)} MiB` : ''})`,
    )
    if (!vectors) await warnAsSearchWould(out, inputs)
  } catch (e) {
    await sink.abort()
    throw e
  } finally {
    for (const i of inputs) await i.close()
  }
}
