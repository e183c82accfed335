import { basename } from 'node:path'
import { defaultThreads } from '../compute/nodePool.js'
import { columnEncoder, HASH_NGRAM, type QueryEncoder } from '../encode/encoders.js'
import { USE_LITE } from '../encode/useLite.js'
import { type EmbedSummary, embedTextColumn } from '../index/embed.js'
import { DEFAULT_PASSAGE_WORDS, PASSAGE_NUMBER, PASSAGE_ROW, type PassageOptions } from '../index/passages.js'
import { checkOutputPath, fileSink, fileSource } from '../io/nodeFile.js'
import { intOption, parse, UsageError } from './args.js'
import { fmtBytes, progressPrinter } from './progress.js'
import { withLocalInput } from './sources.js'

export const DEFAULT_TEXT_ENCODER = `${HASH_NGRAM}:256`

export const embedUsage = `parquetseek embed <in.parquet|url> <out.parquet> --text <column> [options]
  --text NAME          the text column to embed (null or empty text: no vector, counted)
  --encoder ID         the model (default ${DEFAULT_TEXT_ENCODER}: words, word pairs and trigrams;
                       ${HASH_NGRAM}:<dim> for another size; ${USE_LITE}: the Universal Sentence
                       Encoder Lite, by meaning, ~90 rows/s a core); its name goes in the
                       footer so text queries use it
  --as NAME            the new column (default embedding)
  --float16            store the vectors as half floats (FLOAT16): half the bytes, values rounded
                       to 11 significant bits (default FLOAT)
  --passages           a row per passage of the text (${DEFAULT_PASSAGE_WORDS} words, a quarter shared with the next), each
                       embedded: a long text is found by any of its parts, not only its beginning (the
                       model reads ~128 tokens); other columns repeated, columns ${PASSAGE_ROW} (the input
                       row) and ${PASSAGE_NUMBER} (from 0) added; --passage-words N for another size
  --threads N          ${USE_LITE}: worker threads, each with the model (default: the cores, ≤ 8)
  --json               print one JSON summary on stdout
  Every other column is copied unchanged (with --passages: to each passage of its row). \`index … --embed-text <column>\` embeds and indexes in one go.`

/**
 * The encoder a flag names, or a usage error listing what this build has. A model as slow as
 * use-lite-512 runs on `threads` worker threads (close it after); hash-ngram is faster in place.
 */
export function textEncoder(id: string | undefined, threads = 1): QueryEncoder & { close?(): void } {
  const encoder = columnEncoder(id ?? DEFAULT_TEXT_ENCODER, threads)
  if (!encoder)
    throw new UsageError(`no encoder "${id}" in this build; the built-in one is ${HASH_NGRAM}:<dim>, e.g. ${DEFAULT_TEXT_ENCODER}`)
  return encoder
}

export async function embedCommand(argv: string[], signal: AbortSignal): Promise<void> {
  const { values, positionals } = parse(argv, {
    text: { type: 'string' },
    encoder: { type: 'string' },
    as: { type: 'string' },
    float16: { type: 'boolean' },
    passages: { type: 'boolean' },
    'passage-words': { type: 'string' },
    threads: { type: 'string' },
    json: { type: 'boolean' },
  })
  const [input, output, ...extra] = positionals
  if (!values.text) throw new UsageError(`--text is required\n${embedUsage}`)
  if (!input || !output || extra.length) throw new UsageError(`expected <in.parquet> <out.parquet>\n${embedUsage}`)
  const encoder = textEncoder(values.encoder, intOption(values.threads, 'threads', 1, 256) ?? defaultThreads())
  await checkOutputPath(output)
  const text = values.text
  const passages = passagesOption(values)
  const summary = await withLocalInput(input, output, signal, (local) =>
    embedFile(local, output, { text, as: values.as, float16: values.float16, passages, encoder, signal, name: basename(input) }),
  ).finally(() => encoder.close?.())
  if (values.json) process.stdout.write(`${JSON.stringify({ ...summary, output })}\n`)
  else process.stdout.write(`${output}: ${describeEmbed(summary)}\n`)
}

/** Embeds one file into another on disk, with a progress line (the encoder stays open: the caller's, for more files). */
export async function embedFile(
  input: string,
  output: string,
  /** `name`: the input as messages name it (default: its file name). */
  o: {
    text: string
    as?: string
    float16?: boolean
    passages?: PassageOptions
    encoder: ReturnType<typeof textEncoder>
    signal?: AbortSignal
    name?: string
  },
): Promise<EmbedSummary> {
  const source = await fileSource(input)
  const printer = progressPrinter()
  try {
    return await embedTextColumn(source, await fileSink(output, input), {
      ...o,
      file: o.name ?? basename(input),
      onPassages: (done, total) => printer.update(`passages ${done}/${total}`),
      onProgress: (done, total) => printer.update(`embed ${done}/${total}`),
    })
  } finally {
    printer.done()
    await source.close()
  }
}

/** --passages and --passage-words, as embed's option (undefined: no passages). */
export function passagesOption(values: { passages?: boolean; 'passage-words'?: string }): PassageOptions | undefined {
  const words = intOption(values['passage-words'], 'passage-words', 2, 100_000)
  if (words !== undefined && !values.passages) throw new UsageError('--passage-words sizes --passages; give both')
  return values.passages ? { words } : undefined
}

export function describeEmbed(s: EmbedSummary): string {
  const perSecond = s.embedded / Math.max(1e-3, s.ms / 1000)
  const cut = s.passages ? `, in ${s.rows} passages of ${s.passages.rows} rows (≤ ${s.passages.words} words each)` : ''
  return (
    `${s.embedded} of ${s.rows} rows of ${s.text}${cut} embedded as ${s.column} (${s.encoder}, ${s.dim}-d)` +
    `${s.empty ? `; ${s.empty === 1 ? '1 row with no text has' : `${s.empty} rows with no text have`} no vector` : ''}; ` +
    `${fmtBytes(s.outputBytes)} in ${(s.ms / 1000).toFixed(1)} s (${Math.round(perSecond)} rows/s)`
  )
}
