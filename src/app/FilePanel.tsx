import type { FileInfo } from '../../workers/fileFacts.js'
import type { BuildSummary } from '../index/build.js'
import type { EmbedSummary } from '../index/embed.js'
import { spanText } from './text.js'

export type Built = { summary: BuildSummary; url: string; name: string; file: File; saved: boolean; embedded?: EmbedSummary }

const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`

/** A URL's file name (the whole URL is the heading's title); a local file's name as it is. */
export function shortName(name: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(name)) return name
  try {
    const last = new URL(name).pathname.split('/').filter(Boolean).at(-1)
    return last ? decodeURIComponent(last) : name
  } catch {
    return name
  }
}

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
              {info.kind === 'manifest'
                ? ', each indexed: a manifest lists them'
                : info.kind === 'files'
                  ? ', each indexed, searched as one'
                  : ', unmodified: a sidecar index over them'}
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
            `${params.clustered ? ', rows stored list by list' : ''}${info.sources ? `, ${{ manifest: 'a manifest of ', files: '', sidecar: 'a sidecar over ' }[info.kind ?? 'sidecar']}${info.sources.length} ${info.kind ? 'indexed ' : ''}file${info.sources.length === 1 ? '' : 's'}` : ''}` +
            `${backend ? `; searching with ${backend}` : ''}`
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
              The {{ manifest: "manifest's ", files: '', sidecar: "sidecar's " }[info.kind ?? 'sidecar']}files, rows numbered across them in
              this order
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
        <button
          type="button"
          className="primary"
          onClick={() => {
            const a = document.createElement('a')
            a.href = built.url
            a.download = built.name
            a.click()
          }}
        >
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
