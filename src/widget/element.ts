import { encoderFor, type QueryEncoder, registerEncoder } from '../encode/encoders.js'
import { type ModelLoad, USE_LITE, USE_LITE_DIM } from '../encode/useLite.js'
import { PASSAGE_ROW } from '../index/keys.js'
import { jsonRow, type ShownColumns, shownColumnsIn, shownDistance, webAddress } from '../parquet/json.js'
import { type AnyIndex, open } from '../search/anyIndex.js'
import { type DatasetResult, SeekDataset } from '../search/dataset.js'
import type { SearchResult } from '../search/engine.js'
import { textModelOf } from '../search/parts.js'
import { SidecarIndex, type SidecarResult } from '../search/sidecarIndex.js'

/**
 * This script's URL, read while it runs: a classic script is document.currentScript (gone
 * after), a module has import.meta.url (empty in the classic build).
 */
const HERE = (typeof document === 'undefined' ? undefined : (document.currentScript as HTMLScriptElement | null)?.src) || import.meta.url

/**
 * `use-lite-512` from the site that serves this script: parquet-seek-encoder.js beside it and the
 * model under ../models/, imported on the first keystroke or text query, so this script stays small.
 */
let useLite: Promise<QueryEncoder> | undefined
/** The model has loaded: a text query waits for nothing. */
let useLiteLoaded = false
/** Where the model's download stands, from the encoder module (once it has loaded). */
let modelProgress: (() => ModelLoad | undefined) | undefined
const siteEncoder = () =>
  (useLite ??= import(/* @vite-ignore */ new URL('parquet-seek-encoder.js', HERE).href)
    .then((m: typeof import('./encoder.js')) => {
      modelProgress = m.modelLoad
      return m.useLiteFromSite(new URL('../', HERE).href)
    })
    .catch((e: Error) => {
      useLite = undefined
      throw e
    }))
registerEncoder((id) =>
  id === USE_LITE
    ? {
        id: USE_LITE,
        dim: USE_LITE_DIM,
        prepare: async () => {
          await (await siteEncoder()).prepare?.()
          useLiteLoaded = true
        },
        encode: async (texts) => {
          const vectors = await (await siteEncoder()).encode(texts)
          useLiteLoaded = true
          return vectors
        },
      }
    : undefined,
)

/**
 * `<parquet-seek src="https://…/file.indexed.parquet" columns="title" link="url" k="10" where="lang = 'en'">`
 * (`distinct="col"`: one result per value of col; a file of passages, embed --passages, shows the
 * nearest passage of each text unless `distinct="none"`; `link="col"`: each result's first column
 * a link to the http(s) address in col, relative to the page; `placeholder`: the search box's)
 *
 * A search box over an indexed Parquet file, for any page: one script, no framework. It shows a
 * text box when the file names a model this build can encode text with; otherwise search from
 * script with `el.search(vector)` (or `el.searchRow(n)`). A `src` ending in `.pqseek` is a
 * sidecar index, searched over its files (found beside it, on its origin, or under a URL prefix
 * listed in `sources`, e.g. a dataset's files on Hugging Face): each result names its file. A
 * `src` ending in `.json` is a manifest of indexed files (`{ "files": ["part-0.indexed.parquet",
 * …] }`, on its origin or under `sources`), searched as one: each result names its file.
 * Below full results a "Show 10 more" button repeats the search for more (`el.showMore()` from script).
 * Fires `results` (detail: SearchResult) and `error` (detail: { message }). Styled inside a shadow root; theme it with
 * `--ps-font`, `--ps-accent`, `--ps-text`, `--ps-muted`, `--ps-bg`, `--ps-border`, `--ps-radius`.
 * Values from the file are always inserted as text (textContent), never as HTML.
 */

/** What the element searches: an indexed file, a sidecar over files, or a manifest's indexed files. */
type Searched = AnyIndex
type Found = SearchResult | SidecarResult | DatasetResult

/** The status line while use-lite-512 loads (then followed by the megabytes received). */
const LOADING_MODEL = 'Loading the text encoder (14 MB, once)…'

/** Results "Show more" adds to those shown, and the most the widget asks for (as the app). */
const MORE = 10
const MAX_K = 1000

const STYLE = `
:host { display: block; font: var(--ps-font, 14px/1.4 system-ui, sans-serif); color: var(--ps-text, #1b1f24); }
form { display: flex; gap: .5em; }
input { flex: 1; font: inherit; padding: .4em .6em; border: 1px solid var(--ps-border, #d1d5db); border-radius: var(--ps-radius, 6px); background: var(--ps-bg, #fff); color: inherit; }
button { font: inherit; padding: .4em .9em; border: 0; border-radius: var(--ps-radius, 6px); background: var(--ps-accent, #2563eb); color: #fff; cursor: pointer; }
ol { list-style: none; padding: 0; margin: .75em 0 0; }
li { padding: .45em 0; border-bottom: 1px solid var(--ps-border, #e5e7eb); }
.meta, .status { color: var(--ps-muted, #6b7280); font-size: .85em; }
.field { margin-right: .75em; }
a { color: var(--ps-accent, #2563eb); }
.error { color: #b91c1c; }
.more { margin-top: .5em; background: none; color: var(--ps-accent, #2563eb); border: 1px solid var(--ps-border, #d1d5db); }
.more:disabled { opacity: .6; cursor: default; }
[hidden] { display: none; }
`

export class ParquetSeekElement extends HTMLElement {
  static observedAttributes = ['src', 'sources', 'placeholder']
  private opening: Promise<Searched> | undefined
  private readonly root: ShadowRoot
  private readonly form: HTMLFormElement
  private readonly input: HTMLInputElement
  private readonly list: HTMLOListElement
  private readonly status: HTMLParagraphElement
  private readonly moreButton: HTMLButtonElement
  private abort: AbortController | undefined
  /** The query on screen and the k it was searched with ("Show more" repeats it for more). */
  private shown: { vector: Float32Array; k: number } | undefined
  /** The status line about the model's download, as last said. */
  private loadingLine: string | undefined

  constructor() {
    super()
    this.root = this.attachShadow({ mode: 'open' })
    // a constructed stylesheet: allowed under a CSP without 'unsafe-inline' styles
    const sheet = new CSSStyleSheet()
    sheet.replaceSync(STYLE)
    this.root.adoptedStyleSheets = [sheet]
    this.form = document.createElement('form')
    this.form.hidden = true
    this.form.setAttribute('part', 'form')
    this.form.setAttribute('role', 'search')
    this.input = document.createElement('input')
    this.input.type = 'search'
    this.input.setAttribute('aria-label', 'Search text')
    this.input.placeholder = 'Search…'
    const button = document.createElement('button')
    button.type = 'submit'
    button.textContent = 'Search'
    this.form.append(this.input, button)
    // the first keystroke starts the text encoder's download, said in the status line until it
    // ends (unless a search has said something since): the query typed meanwhile does not wait for all of it
    this.input.addEventListener('input', () => void this.prepareEncoder(), { once: true })
    this.form.addEventListener('submit', (e) => {
      e.preventDefault()
      void this.searchText(this.input.value)
    })
    this.status = document.createElement('p')
    this.status.className = 'status'
    this.status.setAttribute('role', 'status')
    this.list = document.createElement('ol')
    this.list.setAttribute('part', 'results')
    this.moreButton = document.createElement('button')
    this.moreButton.type = 'button'
    this.moreButton.className = 'more'
    this.moreButton.hidden = true
    this.moreButton.setAttribute('part', 'more')
    this.moreButton.addEventListener('click', () => void this.showMore().catch(() => {}))
    this.root.append(this.form, this.status, this.list, this.moreButton)
  }

  connectedCallback() {
    void this.ready().catch(() => {})
  }

  attributeChangedCallback(name: string, old: string | null, value: string | null) {
    if (name === 'placeholder') this.input.placeholder = value ?? 'Search…'
    if ((name === 'src' || name === 'sources') && old !== null && old !== value) {
      this.opening = undefined
      // another file: the results shown are not its rows
      this.shown = undefined
      this.list.replaceChildren()
      this.moreButton.hidden = true
      if (this.isConnected) void this.ready().catch(() => {})
    }
  }

  /** Opens the file (once per src); resolves to the opened index (a sidecar's for a `.pqseek`, a dataset for a manifest). */
  ready(): Promise<Searched> {
    const src = this.getAttribute('src')
    if (!src) return Promise.reject(this.fail(new Error('<parquet-seek> needs a src attribute (the URL of an indexed Parquet file)')))
    this.opening ??= (async () => {
      this.say('Opening…')
      try {
        const url = new URL(src, document.baseURI).href
        // a sidecar's or a manifest's files: on its origin, or under a prefix the page lists in `sources`
        const allow = (this.getAttribute('sources') ?? '').split(/[\s,]+/).filter(Boolean)
        // (how many of those files are open, as they open)
        const onProgress = (opened: number, files: number) =>
          this.say(`Opening… ${opened.toLocaleString('en-US')} of ${files.toLocaleString('en-US')} files`)
        const index = await open(url, { allow, onProgress })
        // no text box where the files name no model this page has, or different ones (said, naming them)
        const model = textModelOf(index)
        this.form.hidden = !encoderFor(model.name)
        this.say(model.problem ? `No text search: ${model.problem}` : this.form.hidden ? '' : `${index.rows.toLocaleString('en-US')} rows`)
        return index
      } catch (e) {
        this.opening = undefined
        throw this.fail(e as Error, src)
      }
    })()
    return this.opening
  }

  private async prepareEncoder() {
    let rows = ''
    try {
      const index = await this.ready()
      rows = `${index.rows.toLocaleString('en-US')} rows`
      const encoder = encoderFor(index.encoder)
      if (!encoder?.prepare) return
      await this.loadingModel(encoder, async () => {
        await encoder.prepare?.()
      })
    } catch {
      // a failed load is the query's to report: it tries again
    }
    // loaded, or not: the line about the download gives way, unless something was said since
    if (this.loadingLine !== undefined && this.status.textContent === this.loadingLine) this.say(rows)
  }

  /**
   * Runs `work` (which loads `encoder`'s model, when it is use-lite-512 and not loaded yet) while
   * the status line says so, with the megabytes received as they come.
   */
  private async loadingModel<T>(encoder: QueryEncoder, work: () => Promise<T>): Promise<T> {
    if (encoder.id !== USE_LITE || useLiteLoaded) return work()
    this.loadingLine = LOADING_MODEL
    this.say(this.loadingLine)
    const timer = setInterval(() => {
      const load = modelProgress?.()
      if (this.status.textContent !== this.loadingLine || !load || load.done) return
      this.loadingLine = `${LOADING_MODEL} ${(load.loaded / 1e6).toFixed(1)} MB`
      this.say(this.loadingLine)
    }, 250)
    try {
      return await work()
    } finally {
      clearInterval(timer)
    }
  }

  /** Text query (needs a file whose model this build can encode). */
  async searchText(text: string): Promise<Found | undefined> {
    const index = await this.ready()
    const model = textModelOf(index)
    const encoder = encoderFor(model.name)
    if (!encoder)
      throw this.fail(
        new Error(
          model.problem
            ? `No text search: ${model.problem}`
            : 'this file does not name a model the widget can encode text with; use el.search(vector)',
        ),
      )
    if (!text.trim()) return undefined
    try {
      const [q] = await this.loadingModel(encoder, () => encoder.encode([text]))
      return await this.search(q as Float32Array)
    } catch (e) {
      throw this.fail(e as Error)
    }
  }

  /** More like row n of the file (of a sidecar's or a manifest's files, numbered across them). */
  async searchRow(row: number): Promise<Found> {
    const index = await this.ready()
    return this.search(await index.vectorOf(row))
  }

  /** Vector query; renders and returns the results. */
  search(vector: ArrayLike<number>): Promise<Found> {
    return this.run(Float32Array.from(vector), this.k)
  }

  /**
   * The search on screen again, for 10 more results (up to 1,000), the first one added focused.
   * Its first results are those shown, unless its larger share of candidates held nearer rows.
   * Resolves to undefined when nothing is shown or the results on screen are all there are.
   */
  async showMore(): Promise<Found | undefined> {
    const shown = this.shown
    if (!shown || this.list.children.length < shown.k || shown.k >= MAX_K) return undefined
    return this.run(shown.vector, Math.min(MAX_K, shown.k + MORE), this.list.children.length)
  }

  /** Searches `vector` for its k nearest, renders them (focusing result `focus`, when given) and returns them. */
  private async run(vector: Float32Array, k: number, focus?: number): Promise<Found> {
    const index = await this.ready()
    this.abort?.abort()
    const abort = new AbortController()
    this.abort = abort
    this.moreButton.disabled = true
    this.say('Searching…')
    try {
      const where = this.getAttribute('where')?.trim() || undefined
      // distinct="col": one result per value; a file of passages gets one a text unless distinct="none"
      const asked = this.getAttribute('distinct')?.trim()
      const files =
        index instanceof SidecarIndex
          ? index.opened().map((s) => s.metadata)
          : index instanceof SeekDataset
            ? index.shards.map((s) => s.opened.metadata)
            : [index.opened.metadata]
      const passages = files.some((m) => m.schema.some((e) => e.name === PASSAGE_ROW))
      const distinct = asked === 'none' ? undefined : asked || (passages ? PASSAGE_ROW : undefined)
      const link = this.link
      const columns = link && !this.columns.includes(link) ? [...this.columns, link] : this.columns
      const result = await index.search(vector, { k, columns, where, distinct, signal: abort.signal })
      this.shown = { vector, k }
      const metric =
        index instanceof SidecarIndex ? index.model.params.metric : index instanceof SeekDataset ? index.shards[0]?.metric : index.metric
      this.render(result, shownColumnsIn(files), k, focus, String(metric))
      this.dispatchEvent(new CustomEvent('results', { detail: result }))
      return result
    } catch (e) {
      throw this.fail(e as Error)
    } finally {
      if (this.abort === abort) this.moreButton.disabled = false
    }
  }

  private get k(): number {
    const k = Number(this.getAttribute('k') ?? 10)
    return Number.isInteger(k) && k > 0 ? Math.min(k, MAX_K) : 10
  }

  private get columns(): string[] {
    return (this.getAttribute('columns') ?? '')
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean)
  }

  /** The column holding each result's address (`link`), if any. */
  private get link(): string | undefined {
    return this.getAttribute('link')?.trim() || undefined
  }

  private render(result: Found, shown: ShownColumns, k: number, focus: number | undefined, metric: string) {
    const columns = this.columns
    const link = this.link
    const items = result.results.map((hit) => {
      const li = document.createElement('li')
      li.setAttribute('part', 'result')
      // as the app shows them: a DATE as its day, a timestamp as ISO text, an INT64 id exactly
      const values = jsonRow(hit.values, shown)
      const href = link === undefined ? undefined : webAddress(values[link], document.baseURI)
      for (const [i, c] of columns.entries()) {
        const span = document.createElement(i === 0 ? 'strong' : 'span')
        span.className = 'field'
        span.dataset.column = c
        const v = values[c]
        const text = typeof v === 'string' ? v : v === undefined || v === null ? '' : JSON.stringify(v)
        // a link is never empty: a row without a first value shows its address
        if (i === 0 && href) span.append(anchor(href, text || href))
        else span.textContent = text
        li.append(span)
      }
      // no columns shown: the address itself
      if (!columns.length && href) li.append(anchor(href, href))
      const meta = document.createElement('div')
      meta.className = 'meta'
      // (a sidecar's or a manifest's hit: the file's name and its row there)
      const where = 'file' in hit ? `${hit.file.split('/').at(-1)} row ${hit.row}` : `row ${hit.row}`
      meta.textContent = `${where} · distance ${shownDistance(hit.distance, metric, 3)}`
      li.append(meta)
      return li
    })
    this.list.replaceChildren(...items)
    // as many as asked: there may be more
    this.moreButton.hidden = items.length < k || k >= MAX_K
    this.moreButton.textContent = `Show ${Math.min(MORE, MAX_K - k)} more`
    const first = focus === undefined ? undefined : items[focus]
    if (first) {
      first.tabIndex = -1
      first.focus()
    }
    const s = result.stats
    this.say(`${result.results.length} results · ${(s.bytes / 1024).toFixed(1)} KiB in ${s.requests} requests · ${s.ms.toFixed(0)} ms`)
  }

  private say(text: string) {
    this.status.className = 'status'
    this.status.textContent = text
  }

  private fail(e: Error, src?: string): Error {
    const message =
      /network error/.test(e.message) && src
        ? `${e.message}. The server of ${src} must allow this site: CORS (Access-Control-Allow-Origin) and Range, exposing Content-Range.`
        : e.message
    this.status.className = 'status error'
    this.status.textContent = message
    this.dispatchEvent(new CustomEvent('error', { detail: { message } }))
    return new Error(message)
  }
}

function anchor(href: string, text: string): HTMLAnchorElement {
  const a = document.createElement('a')
  a.href = href
  a.textContent = text
  a.setAttribute('part', 'link')
  return a
}

if (!customElements.get('parquet-seek')) customElements.define('parquet-seek', ParquetSeekElement)

declare global {
  interface HTMLElementTagNameMap {
    'parquet-seek': ParquetSeekElement
  }
}
