import { registerUseLiteNode } from '../encode/useLiteNode.js'
import { AbortError, ParquetSeekError } from '../errors.js'
import { UsageError } from './args.js'
import { benchCommand, benchUsage } from './benchCommand.js'
import { embedCommand, embedUsage } from './embedCommand.js'
import { indexCommand, indexUsage } from './indexCommand.js'
import { infoCommand, infoUsage } from './infoCommand.js'
import { joinCommand, joinUsage } from './joinCommand.js'
import { searchCommand, searchUsage } from './searchCommand.js'
import { encodeCommand, mergeCommand, sharedUsage, trainCommand } from './sharedCommands.js'

const usage = `parquetseek — vector search inside plain Parquet files

${indexUsage}

${embedUsage}

${sharedUsage}

${searchUsage}

${benchUsage}

${joinUsage}

${infoUsage}

Files: a path, an http(s) URL, or hf://datasets/owner/repo[@rev]/path; where several are taken, a
quoted hf:// glob ('hf://datasets/owner/repo/data/*.parquet') is the files it matches. HF_TOKEN reads
private and gated repositories; HF_ENDPOINT names a mirror.

Exit codes: 0 success, 1 bad input (one line on stderr naming the problem), 2 bad usage, 130 cancelled.
Add --debug for stack traces.`

// the semantic text encoder, from node_modules, loaded only when a file or flag names it
registerUseLiteNode()

const commands: Record<string, (argv: string[], signal: AbortSignal) => Promise<void>> = {
  index: indexCommand,
  embed: embedCommand,
  search: searchCommand,
  bench: benchCommand,
  join: joinCommand,
  train: trainCommand,
  encode: encodeCommand,
  merge: mergeCommand,
  info: (argv) => infoCommand(argv),
}

/** Each command's own part of the usage, for `parquetseek <command> --help` and `parquetseek help <command>`. */
const usageOf: Record<string, string> = {
  index: indexUsage,
  embed: embedUsage,
  search: searchUsage,
  bench: benchUsage,
  join: joinUsage,
  train: sharedUsage,
  encode: sharedUsage,
  merge: sharedUsage,
  info: infoUsage,
}

const isHelp = (arg: string | undefined) => arg === '--help' || arg === '-h'

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  const debug = rest.includes('--debug')
  if (!name || isHelp(name) || name === 'help') {
    const topic = name === 'help' ? usageOf[rest[0] ?? ''] : undefined
    process.stdout.write(`${topic ?? usage}\n`)
    return name ? 0 : 2
  }
  // `search --help`: the command's usage, not "Unknown option" (options after `--` are arguments)
  const options = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest
  if (usageOf[name] !== undefined && options.some(isHelp)) {
    process.stdout.write(`${usageOf[name]}\n`)
    return 0
  }
  const command = commands[name]
  if (!command) {
    process.stderr.write(`parquetseek: unknown command "${name}"\n\n${usage}\n`)
    return 2
  }
  const controller = new AbortController()
  const onSignal = () => controller.abort()
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    await command(rest, controller.signal)
    return 0
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`parquetseek ${name}: ${e.message}\n`)
      return 2
    }
    if (e instanceof AbortError) {
      // (a command that kept what it had finished says so in the error's message)
      const kept = e.message.startsWith('cancelled;') ? e.message : 'cancelled; nothing was written'
      process.stderr.write(`parquetseek ${name}: ${kept}\n`)
      return 130
    }
    const message = e instanceof ParquetSeekError ? e.message : `unexpected error: ${(e as Error).message ?? e}`
    process.stderr.write(`parquetseek ${name}: ${message.split('\n')[0]}\n`)
    if (debug) process.stderr.write(`${(e as Error).stack}\n`)
    return 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
