import type { FileInfo } from '../../workers/fileFacts.js'
import type { BuildSummary } from '../index/build.js'
import type { EmbedSummary } from '../index/embed.js'
import type { BuiltDataset } from './datasetBuild.js'
import { saveAs } from './download.js'
import { shortName, spanText } from './text.js'

export type Built = { summary: BuildSummary; name: string; file: File; saved: boolean; embedded?: EmbedSummary }

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`

/**
 * A type as the schema table shows it: the logical type where it says more than the physical one
 * (`UTF8`, `DATE`, `FLOAT16`, `INT_8`), else the physical (`INT64`, not `INT_64`).
 */
function typeName(type: string): string {
  const [, physical, logical] = /^(.*) \(([^)]+)\)$/.exec(type) ?? [type, type, undefined]
  return logical && !/^(INT_32|INT_64|INTEGER)$/.test(logical) ? logical : (physical as string)
}

/** The side panel's facts: the file, then its index (or why it has none). */
export function FileDetails({ info, backend }: { info: FileInfo; backend?: string }) {
  const index = info.index
  const params = index?.params ?? {}
  return (
    <section aria-labelledby="file-title" className="facts">
      <h2 id="file-title" className="file-name" title={info.name}>
        {shortName(info.name)}
      </h2>
      <p data-testid="file-summary" className="sr-only">
        {info.name}: {info.rows.toLocaleString('en-US')} rows, {mib(info.bytes)}, {info.columns.length} columns
      </p>
      <dl>
        {info.sources && (
          <>
            <dt>Files</dt>
            <dd>
              {info.sources.length.toLocaleString('en-US')}
              {
                {
                  manifest: ', each indexed: a manifest lists them',
                  files: ', each indexed, searched as one',
                  parts: ', none indexed yet',
                  sidecar: ', unmodified: a sidecar index over them',
                }[info.kind ?? 'sidecar']
              }
            </dd>
          </>
        )}
        <dt>Rows</dt>
        <dd>{info.rows.toLocaleString('en-US')}</dd>
        <dt>Size</dt>
        <dd>{mib(info.bytes)}</dd>
        <dt>Columns</dt>
        <dd>{info.columns.length}</dd>
        {index && (
          <>
            <dt>Index</dt>
            <dd>IVF-PQ on {index.column}</dd>
            <dt>Metric</dt>
            <dd>{String(params.metric)}</dd>
            <dt>Lists</dt>
            <dd>
              {index.lists.toLocaleString('en-US')}
              {index.eachFile ? (
                <span className="hint">
                  {' '}
                  in {info.sources?.length} files, {spanText(index.eachFile.nlist)} each
                  {index.eachFile.nprobe && ` · ${spanText(index.eachFile.nprobe)} of each file's probed by default`}
                </span>
              ) : (
                params.nprobe !== undefined && <span className="hint"> · {String(params.nprobe)} probed by default</span>
              )}
            </dd>
            <dt>Index size</dt>
            <dd>{(index.bytes / 1024).toFixed(0)} KiB</dd>
            {(info.model || info.modelProblem) && (
              <>
                <dt>Encoder</dt>
                <dd>{info.model ?? <span className="hint">none for text queries: {info.modelProblem}</span>}</dd>
              </>
            )}
            {backend && (
              <>
                <dt>Compute</dt>
                <dd>{backend}</dd>
              </>
            )}
          </>
        )}
      </dl>
      <p data-testid="index-status" className={index ? 'hint' : 'notice'}>
        {index
          ? `Index: ${index.column}, ${String(params.metric)}, ${index.lists} lists, ${(index.bytes / 1024).toFixed(0)} KiB` +
            `${params.clustered ? ', rows stored list by list' : ''}${info.sources ? `, ${{ manifest: 'a manifest of ', files: '', parts: '', sidecar: 'a sidecar over ' }[info.kind ?? 'sidecar']}${info.sources.length} ${info.kind ? 'indexed ' : ''}file${info.sources.length === 1 ? '' : 's'}` : ''}` +
            `${backend ? `; searching with ${backend}` : ''}`
          : info.kind === 'parts'
            ? `No index in these files${info.vectorColumns.length ? '' : info.textColumns.length ? ', and no vectors: embed a text column to build them' : ''}.`
            : info.vectorColumns.length
              ? 'No index in this file.'
              : info.textColumns.length
                ? 'No index and no vectors in this file: embed a text column to build one.'
                : 'No index in this file, and no vector column to build one from (a LIST of FLOAT, DOUBLE, FLOAT16 or 8- or 16-bit integers, or a FIXED_LEN_BYTE_ARRAY of float32).'}
      </p>
      {info.sources && (
        <details>
          <summary>Files</summary>
          <table className="schema">
            <caption className="sr-only">
              The {{ manifest: "manifest's ", files: '', parts: '', sidecar: "sidecar's " }[info.kind ?? 'sidecar']}files, rows numbered
              across them in this order
            </caption>
            <tbody>
              {info.sources.map((s, i, all) => {
                const first = all.slice(0, i).reduce((n, p) => n + p.rows, 0)
                return (
                  <tr key={s.name}>
                    <th scope="row" title={s.name}>
                      {shortName(s.name)}
                    </th>
                    <td>
                      rows {first.toLocaleString('en-US')}–{(first + s.rows - 1).toLocaleString('en-US')}
                    </td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </details>
      )}
      <details>
        <summary>Schema</summary>
        <table className="schema">
          <caption className="sr-only">Columns</caption>
          <tbody>
            {info.columns.map((c) => (
              <tr key={c.name}>
                <th scope="row">{c.name}</th>
                <td>
                  {c.element ? `${c.type} of ${typeName(c.element)}` : typeName(c.logicalType ? `${c.type} (${c.logicalType})` : c.type)}
                </td>
                <td>{info.vectorColumns.includes(c.name) ? 'vector' : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  )
}

export function BuiltPanel({ built }: { built: Built }) {
  const canSave = typeof (window as { showSaveFilePicker?: unknown }).showSaveFilePicker === 'function'
  const total = Object.values(built.summary.phasesMs).reduce((a, b) => a + b, 0)
  return (
    <section aria-labelledby="built-title" className="built">
      <h2 id="built-title">Indexed file</h2>
      <p data-testid="built-summary">
        {built.summary.params.rows} rows, nlist {built.summary.params.nlist}, m {built.summary.params.m}; index{' '}
        {(built.summary.indexBytes / 1024).toFixed(0)} KiB of {(built.summary.outputBytes / 1024).toFixed(0)} KiB; built in{' '}
        {(total / 1000).toFixed(1)} s with {built.summary.backend}
        {built.summary.device ? ` (${built.summary.device})` : ''} on {built.summary.threads}{' '}
        {built.summary.threads === 1 ? 'thread' : 'threads'}
        {built.summary.params.clustered ? '; rows stored list by list (their numbers in your file: column parquetseek_row)' : ''}
      </p>
      {built.embedded && (
        <p data-testid="embedded-summary">
          Embedded {built.embedded.embedded.toLocaleString('en-US')} of {built.embedded.rows.toLocaleString('en-US')} rows of{' '}
          {built.embedded.text}
          {built.embedded.passages
            ? `, cut into passages of at most ${built.embedded.passages.words} words from ${built.embedded.passages.rows.toLocaleString('en-US')} rows,`
            : ''}{' '}
          as {built.embedded.column} ({built.embedded.encoder})
          {built.embedded.empty ? `; ${built.embedded.empty.toLocaleString('en-US')} rows without text have no vector` : ''} in{' '}
          {(built.embedded.ms / 1000).toFixed(1)} s.
        </p>
      )}
      {built.summary.gpuFallback && (
        <p role="status" className="hint">
          The GPU could not build it: {built.summary.gpuFallback}.
        </p>
      )}
      {built.saved && <p data-testid="saved">Saved to {built.name} as it was written.</p>}
      <div className="row">
        <button type="button" className="primary" onClick={() => saveAs(built.file, built.name)}>
          Download
        </button>
        {canSave && !built.saved && (
          <button type="button" onClick={() => saveToDisk(built.file, built.name)}>
            Save to disk…
          </button>
        )}
      </div>
    </section>
  )
}

/** Several files indexed as one dataset: where they are, or (built in memory) each to download. */
export function BuiltDatasetPanel({ built }: { built: BuiltDataset }) {
  const own = built.written + built.kept
  const files = [...built.files.slice(built.files.length - own), built.manifest]
  return (
    <section aria-labelledby="built-dataset-title" className="built">
      <h2 id="built-dataset-title">Indexed dataset</h2>
      <p data-testid="built-dataset">
        {built.written} file{built.written === 1 ? '' : 's'} indexed ({built.rows.toLocaleString('en-US')} rows) in{' '}
        {(built.ms / 1000).toFixed(1)} s
        {built.kept ? `, ${built.kept} kept as an earlier build indexed ${built.kept === 1 ? 'it' : 'them'}` : ''}
        {built.files.length > own ? `, beside the ${built.files.length - own} the manifest listed before` : ''}
        {built.folder
          ? `; written into ${built.folder} with ${built.manifest.name}: host that folder as it is, or open it here again (Open folder).`
          : '; in memory: download each, with the manifest, into one folder to host them or open them again.'}
      </p>
      {built.renumbered && (
        <p role="status" className="notice" data-testid="renumbered">
          {built.renumbered.replace(/^t/, 'T')}.
        </p>
      )}
      {!built.folder && (
        <ul className="downloads">
          {files.map((f) => (
            <li key={f.name}>
              <button type="button" className="link" onClick={() => saveAs(f, f.name)}>
                {f.name}
              </button>{' '}
              <span className="hint">{f.size < 1024 ? `${f.size} bytes` : `${(f.size / 1024).toFixed(0)} KiB`}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  )
}

/** File System Access API: the browser streams the Blob to the chosen file. */
async function saveToDisk(blob: Blob, name: string) {
  const picker = (window as unknown as { showSaveFilePicker: (o: object) => Promise<FileSystemFileHandle> }).showSaveFilePicker
  try {
    const handle = await picker({ suggestedName: name })
    const writable = await handle.createWritable()
    await blob.stream().pipeTo(writable)
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw e
  }
}
