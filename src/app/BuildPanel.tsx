import { useRef, useState } from 'react'
import type { EmbedRequest, JobProgress } from '../../workers/build.worker.js'
import type { FileInfo } from '../../workers/fileFacts.js'
import { SEARCH_BACKENDS, type SearchBackend } from '../compute/backend.js'
import { HASH_NGRAM } from '../encode/encoders.js'
import { USE_LITE } from '../encode/useLite.js'
import { BUILD_PHASES, type BuildSummary } from '../index/build.js'
import type { EmbedSummary } from '../index/embed.js'
import { PASSAGE_ROW } from '../index/keys.js'
import { builtOtherwise, type IndexParams, type Metric } from '../index/model.js'
import { indexedName, MANIFEST } from '../search/dataset.js'
import { buildInWorker, run, type WorkerBuild, type WorkerBuildOptions, withBuildWorker } from './bridge.js'
import { type BuiltDataset, buildDataset, type FolderHandle } from './datasetBuild.js'

const PHASE_LABEL: Record<JobProgress['phase'], string> = {
  passages: 'cutting texts into passages',
  embed: 'embedding text',
  read: 'reading vectors',
  'train-coarse': 'training coarse clusters',
  'train-pq': 'training PQ codebooks',
  encode: 'encoding rows',
  tune: 'measuring recall for the default nprobe',
  reorder: 'reading every column to store rows list by list',
  write: 'writing the indexed file',
}

interface Props {
  /** The file to index; several: each indexed alone, with a manifest.json listing them (a dataset). */
  files: File[]
  /**
   * Several: the files opened with them (their folder's), where an earlier build's index of one
   * is found and kept in memory where built as asked, and the files `into`'s manifest lists.
   */
  beside?: File[]
  /**
   * The dataset open the files are added to: its manifest (read from the folder picked, when
   * written into one), and the settings it was built with, the panel's first choices.
   */
  into?: { manifest: File; metric?: Metric; column?: string; model?: string; clustered?: boolean }
  info: FileInfo
  backend: SearchBackend
  /** Whether the page has a WebGPU adapter (the gpu choice is offered only then). */
  gpuAvailable: boolean
  onBackend: (b: SearchBackend) => void
  /** `file`: the indexed file, in memory (a Blob-backed File) or as saved to disk. */
  onBuilt: (summary: BuildSummary, file: File, saved: boolean, embedded?: EmbedSummary) => Promise<void>
  /** Several files built: opens the dataset (`files`: every file the manifest lists), or throws why it does not open; `signal` cancels it. */
  openDataset: (manifest: File, files: File[], signal?: AbortSignal) => Promise<void>
  /** The dataset opened, and its manifest written. */
  onBuiltDataset: (built: BuiltDataset) => void
  onError: (message: string | undefined) => void
}

type FolderPicker = (o: object) => Promise<FolderHandle<FileSystemFileHandle>>
const folderPicker = () => (window as unknown as { showDirectoryPicker?: FolderPicker }).showDirectoryPicker

/** Encoders a text column can be embedded with in this page; the first is the default. */
const ENCODERS = [
  [USE_LITE, 'use-lite-512: by meaning (Universal Sentence Encoder Lite; 14 MB, loaded once; ~90 rows/s a core)'],
  [`${HASH_NGRAM}:256`, 'hash-ngram 256-d: words, word pairs and spellings; no download'],
  [`${HASH_NGRAM}:128`, 'hash-ngram 128-d: smaller index, a little less precise'],
] as const

/**
 * Build parameters (defaults explained), per-phase progress with an ETA, cancel. A file with
 * text and no vectors gets an embedding step first: which text column, which encoder, and the
 * new column's name.
 */
export function BuildPanel({
  files,
  beside,
  into,
  info,
  backend,
  gpuAvailable,
  onBackend,
  onBuilt,
  openDataset,
  onBuiltDataset,
  onError,
}: Props) {
  const several = files.length > 1
  /** Each file indexed alone, with a manifest of them: several, or added to a dataset. */
  const dataset = several || into !== undefined
  const counted = `${files.length} file${several ? 's' : ''}`
  const embedding = info.vectorColumns.length === 0
  const taken = new Set(info.columns.map((c) => c.name))
  // (added to a dataset: its column, model, metric and rows' order first)
  const [column, setColumn] = useState(info.vectorColumns.find((c) => c === into?.column) ?? info.vectorColumns[0] ?? '')
  const [text, setText] = useState(pickText(info.textColumns))
  const [encoder, setEncoder] = useState<string>(ENCODERS.find(([id]) => id === into?.model)?.[0] ?? ENCODERS[0][0])
  const [as, setAs] = useState(
    [...(into?.column ? [into.column] : []), 'embedding', 'embedding_vector', 'text_embedding'].find((n) => !taken.has(n)) ?? '',
  )
  const [metric, setMetric] = useState<Metric>(into?.metric ?? (embedding ? 'cosine' : 'l2'))
  const [nlist, setNlist] = useState('')
  const [m, setM] = useState('')
  const canStream = dataset
    ? typeof folderPicker() === 'function'
    : typeof (window as { showSaveFilePicker?: unknown }).showSaveFilePicker === 'function'
  // (a dataset: into a folder by default, where the page can write one)
  const [toDisk, setToDisk] = useState(dataset && canStream)
  /** Several files: the one being built (0-based). */
  const [fileAt, setFileAt] = useState(0)
  const [clusterRows, setClusterRows] = useState(into?.clustered === true)
  const [float16, setFloat16] = useState(false)
  const [passages, setPassages] = useState(false)
  const [progress, setProgress] = useState<JobProgress>()
  const [building, setBuilding] = useState(false)
  const abort = useRef<AbortController>(undefined)
  /** When each phase was first seen (rows moved a window at a time read and write in turns). */
  const phaseStart = useRef(new Map<string, number>())
  /** How far the bar has gone: it never goes back when a phase comes round again. */
  const reached = useRef(0)

  async function build() {
    const controller = new AbortController()
    abort.current = controller
    if (embedding && (!as.trim() || taken.has(as.trim()))) {
      onError(
        as.trim()
          ? `${several ? 'One of the files' : 'The file'} already has a column named "${as.trim()}": name the new one differently.`
          : 'Name the new column.',
      )
      return
    }
    const options = {
      column: embedding ? as.trim() : column,
      metric,
      skipInvalid: true,
      backend,
      nlist: nlist ? Number(nlist) : undefined,
      m: m ? Number(m) : undefined,
      clusterRows,
    }
    const embed = embedding ? { text, encoder, as: as.trim(), float16, passages } : undefined
    const onProgress = (p: JobProgress) => {
      if (!phaseStart.current.has(p.phase)) phaseStart.current.set(p.phase, performance.now())
      setProgress(p)
    }
    if (dataset)
      return buildAll(
        controller.signal,
        (build, file, target) => build(file, options, { signal: controller.signal, target, embed, onProgress }),
        (output) => indexedOtherwise(output, options, embed, controller.signal),
      )
    const file = files[0] as File
    const name = indexedName(file.name)
    let target: FileSystemFileHandle | undefined
    if (toDisk) {
      try {
        target = await (window as unknown as { showSaveFilePicker: (o: object) => Promise<FileSystemFileHandle> }).showSaveFilePicker({
          suggestedName: name,
        })
      } catch {
        return // the user closed the picker
      }
    }
    setBuilding(true)
    phaseStart.current.clear()
    reached.current = 0
    onError(undefined)
    try {
      const { summary, blob, embedded } = await buildInWorker(file, options, { signal: controller.signal, target, embed, onProgress })
      if (target) await onBuilt(summary, await target.getFile(), true, embedded)
      else await onBuilt(summary, new File([blob as Blob], name, { type: 'application/vnd.apache.parquet' }), false, embedded)
    } catch (e) {
      onError((e as Error).name === 'AbortError' ? 'Build cancelled.' : (e as Error).message)
    } finally {
      setBuilding(false)
      setProgress(undefined)
    }
  }

  /**
   * Each file indexed alone, then the manifest listing them (datasetBuild.ts), into a folder the
   * person picks or in memory; one build worker for them all.
   */
  async function buildAll(
    signal: AbortSignal,
    buildOne: (build: WorkerBuild, file: File, target?: FileSystemFileHandle) => ReturnType<typeof buildInWorker>,
    builtOtherwise: (output: File) => Promise<string | undefined>,
  ) {
    let folder: FolderHandle<FileSystemFileHandle> | undefined
    if (toDisk) {
      try {
        folder = await (folderPicker() as FolderPicker)({ id: 'parquetseek-dataset', mode: 'readwrite' })
      } catch {
        return // the person closed the picker
      }
    }
    setFileAt(0)
    setBuilding(true)
    onError(undefined)
    try {
      const built = await withBuildWorker((build) =>
        buildDataset(files, {
          folder,
          signal,
          confirm: (question) => window.confirm(question),
          beside,
          manifest: into?.manifest,
          builtOtherwise,
          rowsOf: (output) =>
            run(signal, (api) => api.fileFacts(output)).then(
              (facts) => facts.rows,
              () => undefined,
            ),
          build: async (file, i, target) => {
            setFileAt(i)
            setProgress(undefined)
            phaseStart.current.clear()
            reached.current = 0
            const { summary, blob } = await buildOne(build, file, target)
            return { rows: summary.params.rows, blob }
          },
          open: openDataset,
        }),
      )
      if (built) onBuiltDataset(built)
    } catch (e) {
      onError((e as Error).message)
    } finally {
      setBuilding(false)
      setProgress(undefined)
    }
  }

  // rows are reordered only when stored list by list
  const buildPhases = BUILD_PHASES.filter((p) => p !== 'reorder' || clusterRows)
  const phases: ReadonlyArray<JobProgress['phase']> = embedding
    ? [...(passages ? (['passages'] as const) : []), 'embed', ...buildPhases]
    : buildPhases
  if (progress) reached.current = Math.max(reached.current, phases.indexOf(progress.phase) + progress.done / Math.max(1, progress.total))
  const step = Math.min(phases.length - 1, Math.floor(reached.current))
  const eta = (() => {
    if (!progress || progress.done === 0 || progress.total === 0) return ''
    // (since the phase first began: a phase that comes round again counts the time between too)
    const elapsed = performance.now() - (phaseStart.current.get(progress.phase) ?? performance.now())
    const left = (elapsed / progress.done) * (progress.total - progress.done)
    return left > 1500 ? `, about ${Math.ceil(left / 1000)} s left in this phase` : ''
  })()
  return (
    <section aria-label="Build">
      <h2>
        {into
          ? `Add ${counted} to the dataset`
          : several
            ? `Index ${files.length} files as one dataset`
            : embedding
              ? 'Embed text, then index it'
              : 'Build an index'}
      </h2>
      {dataset && (
        <p className="hint">
          {into
            ? `Each file is indexed alone, with the settings below, into the dataset's folder (pick the one opened), and its ${MANIFEST} then lists them after its files, whose rows keep their numbers.`
            : `Each file is indexed alone, with the settings below, and a ${MANIFEST} lists them: the page then searches them as one, and the folder they are written into can be hosted as it is or opened again here (Open folder).`}
          {canStream ? '' : ' This browser cannot write into a folder: the files are built in memory, and each can be downloaded.'}
        </p>
      )}
      {embedding && (
        <p className="hint">
          {several ? 'These files have' : 'This file has'} text but no vectors. Pick the text to search: each row's text becomes a vector in
          a new column, the index is built on it, and you get {several ? 'an indexed file for each' : 'one indexed file'} with every
          original column.
        </p>
      )}
      <div className="knobs">
        {embedding ? (
          <>
            <label>
              Text column{' '}
              <select value={text} onChange={(e) => setText(e.target.value)}>
                {info.textColumns.map((c) => (
                  <option key={c}>{c}</option>
                ))}
              </select>
            </label>
            <label>
              Encoder{' '}
              <select value={encoder} onChange={(e) => setEncoder(e.target.value)}>
                {ENCODERS.map(([id, label]) => (
                  <option key={id} value={id}>
                    {label}
                  </option>
                ))}
              </select>
            </label>
            <label>
              New column <input aria-label="New column" value={as} onChange={(e) => setAs(e.target.value)} />
            </label>
            <label title="Half floats (FLOAT16): half the bytes for the vectors, each value rounded to 11 significant bits">
              <input type="checkbox" checked={float16} onChange={(e) => setFloat16(e.target.checked)} /> Half floats
            </label>
            <label title="Long texts cut into passages of 40 words, a row each, so a text is found by any of its parts (the encoder reads about the first 45 words of a text)">
              <input type="checkbox" checked={passages} onChange={(e) => setPassages(e.target.checked)} /> Passages
            </label>
          </>
        ) : (
          <label>
            Embedding column{' '}
            <select value={column} onChange={(e) => setColumn(e.target.value)}>
              {info.vectorColumns.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          </label>
        )}
        <label>
          Metric{' '}
          <select value={metric} onChange={(e) => setMetric(e.target.value as Metric)}>
            <option value="l2">L2 (Euclidean)</option>
            <option value="cosine">cosine</option>
            <option value="dot">inner product</option>
          </select>
        </label>
        <label title="Coarse clusters. Default 4·√rows (at least 32 rows each): more lists = fewer bytes per query, slower build">
          Lists (nlist){' '}
          <input type="number" aria-label="nlist" min={1} placeholder="auto" value={nlist} onChange={(e) => setNlist(e.target.value)} />
        </label>
        <label title="PQ bytes per vector. Default dim/4 up to 256-d, dim/8 above: more = better ranking, bigger index">
          Code bytes (m) <input type="number" aria-label="m" min={1} placeholder="auto" value={m} onChange={(e) => setM(e.target.value)} />
        </label>
        <label title="WebAssembly SIMD (default where available) or the plain TypeScript reference — both give the same index — or the GPU (WebGPU: an index of the same quality)">
          Compute{' '}
          <select aria-label="Compute backend" value={backend} onChange={(e) => onBackend(e.target.value as SearchBackend)}>
            {SEARCH_BACKENDS.filter((b) => b !== 'gpu' || gpuAvailable).map((b) => (
              <option key={b}>{b}</option>
            ))}
          </select>
        </label>
      </div>
      {canStream && (
        <label className="hint">
          <input type="checkbox" checked={toDisk} onChange={(e) => setToDisk(e.target.checked)} />{' '}
          {dataset
            ? `Write the indexed files and ${MANIFEST} into a folder (asks which first; needs no memory for the output)`
            : 'Write the indexed file straight to disk (asks where first; needs no memory for the output)'}
        </label>
      )}
      <label
        className="hint"
        title="Every column is rewritten in list order; a parquetseek_row column keeps each row's number in your file (ORDER BY it for the original order)"
      >
        <input type="checkbox" checked={clusterRows} onChange={(e) => setClusterRows(e.target.checked)} /> Store rows list by list — for
        files served from S3, R2, GCS or a CDN: a query's candidates then come in a few requests instead of one each
      </label>
      <p className="hint">Defaults suit most files; the default nprobe is measured on your data at the end of the build.</p>
      <button type="button" className="primary" onClick={build} disabled={building || (embedding ? !text : !column)}>
        {dataset ? `${embedding ? 'Embed and index' : 'Index'} ${counted}` : embedding ? 'Embed and build index' : 'Build index'}
      </button>{' '}
      {building && (
        <button type="button" onClick={() => abort.current?.abort()}>
          Cancel
        </button>
      )}
      {building && (
        <div className="progress">
          {dataset && (
            <p data-testid="build-file">
              <progress aria-label="Files indexed" max={files.length} value={fileAt} /> file {fileAt + 1} of {files.length}:{' '}
              {files[fileAt]?.name}
            </p>
          )}
          <progress aria-label="Build progress" max={phases.length} value={reached.current} />{' '}
          <span data-testid="phase">
            {progress && 'model' in progress && progress.model
              ? `embed: loading the sentence encoder (${progress.model.model}), ${(progress.model.loaded / 1e6).toFixed(1)}` +
                `${progress.model.total >= progress.model.loaded ? ` of ${(progress.model.total / 1e6).toFixed(1)}` : ''} MB`
              : progress
                ? `${progress.phase}: ${PHASE_LABEL[progress.phase]} ${progress.done.toLocaleString('en-US')}/${progress.total.toLocaleString('en-US')}${eta}`
                : 'starting…'}
          </span>
          <ol className="phases">
            {phases.map((p, i) => (
              <li key={p} className={i < step ? 'done' : i === step ? 'current' : ''}>
                {p}
              </li>
            ))}
          </ol>
        </div>
      )}
    </section>
  )
}

/**
 * How `output`, a file an earlier build left where this one writes, differs from what `options`
 * (with `embed`: from text) build, or undefined; one that does not open, or has no index, differs.
 */
async function indexedOtherwise(
  output: File,
  options: WorkerBuildOptions,
  embed: EmbedRequest | undefined,
  signal: AbortSignal,
): Promise<string | undefined> {
  let facts: FileInfo
  try {
    facts = await run(signal, (api) => api.fileFacts(output))
  } catch (e) {
    if (signal.aborted) throw e
    return 'does not open as a Parquet file'
  }
  if (!facts.index) return 'has no index'
  return builtOtherwise(
    {
      params: facts.index.params as Partial<IndexParams>,
      column: facts.index.column,
      model: facts.model,
      passages: facts.columns.some((c) => c.name === PASSAGE_ROW),
      // (a list column's element as summarizeColumns words it: `FIXED_LEN_BYTE_ARRAY (FLOAT16)`)
      float16: /\(FLOAT16\)$/.test(facts.columns.find((c) => c.name === facts.index?.column)?.element ?? ''),
    },
    {
      metric: options.metric ?? 'l2',
      column: options.column,
      nlist: options.nlist,
      m: options.m,
      model: embed?.encoder,
      passages: embed ? embed.passages === true : undefined,
      float16: embed ? embed.float16 === true : undefined,
      clustered: options.clusterRows === true,
    },
  )
}

/** The text column most likely to be worth searching: a name that says so, else the first. */
function pickText(columns: string[]): string {
  return columns.find((c) => /^(text|content|body|description|gloss|abstract|summary|title|name)$/i.test(c)) ?? columns[0] ?? ''
}
