/**
 * Errors are values with context: which file, column, section or byte offset was wrong.
 * The CLI prints `message` alone (one line); `--debug` adds the stack.
 */
export interface ErrorContext {
  file?: string
  column?: string
  section?: string
  offset?: number
  row?: number
}

export class ParquetSeekError extends Error {
  readonly context: ErrorContext
  constructor(message: string, context: ErrorContext = {}) {
    super(withContext(message, context))
    this.name = 'ParquetSeekError'
    this.context = context
  }
}

/** The GPU failed (device lost, out of memory, a limit or a driver error): the CPU can do the work. */
export class GpuError extends ParquetSeekError {
  constructor(message: string) {
    super(message)
    this.name = 'GpuError'
  }
}

/** The file is valid Parquet but carries no ParquetSeek index (callers may fall back to exact search). */
export class NoIndexError extends ParquetSeekError {
  constructor(file?: string, message = 'this Parquet file has no ParquetSeek index (build one with `parquetseek index`)') {
    super(message, { file })
    this.name = 'NoIndexError'
  }
}

/** Thrown when an AbortSignal fires; distinguishable from bad input. */
export class AbortError extends Error {
  constructor(message = 'operation cancelled') {
    super(message)
    this.name = 'AbortError'
  }
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError()
}

/**
 * `promise`'s outcome, or an AbortError as soon as `signal` aborts — for work that others may
 * share (a GPU device and its self-test): the work goes on, only this wait is cancelled.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise
  if (signal.aborted) return Promise.reject(new AbortError())
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new AbortError())
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort))
  })
}

function withContext(message: string, { file, column, section, offset, row }: ErrorContext): string {
  const where: string[] = []
  if (file !== undefined) where.push(file)
  if (column !== undefined) where.push(`column "${column}"`)
  if (section !== undefined) where.push(`section ${section}`)
  if (row !== undefined) where.push(`row ${row}`)
  if (offset !== undefined) where.push(`byte ${offset}`)
  return where.length ? `${where.join(', ')}: ${message}` : message
}

/**
 * Lets the event loop run (signal handlers, worker messages, UI) inside long synchronous work,
 * so cancellation is seen promptly; then throws if cancelled.
 */
export async function checkpoint(signal: AbortSignal | undefined): Promise<void> {
  await nextTask()
  throwIfAborted(signal)
}

/** Who waits for the next task, in turn (a page's or a worker's checkpoints). */
const waiting: Array<() => void> = []
let turns: MessagePort | undefined

/**
 * Resolves in a task of its own, after what the event loop has queued. Node: `setImmediate`. A
 * page or a worker: a message to itself — not `setTimeout(0)`, which browsers hold back to 4 ms
 * once timeouts nest five deep, as a long job's checkpoints do: hundreds of them, seconds of
 * idling.
 */
function nextTask(): Promise<void> {
  const immediate = (globalThis as { setImmediate?: (callback: () => void) => unknown }).setImmediate
  if (immediate) return new Promise((resolve) => immediate(resolve))
  if (!turns) {
    const channel = new MessageChannel()
    channel.port1.onmessage = () => waiting.shift()?.()
    turns = channel.port2
  }
  const port = turns
  return new Promise((resolve) => {
    waiting.push(resolve)
    port.postMessage(0)
  })
}

/**
 * Runs a third-party decoder (hyparquet, codecs) over bytes from a file: those throw plain
 * Errors or RangeErrors on corrupt input; this names what was being read and where instead.
 */
export async function decoding<T>(what: string, context: ErrorContext, run: () => Promise<T> | T): Promise<T> {
  try {
    return await run()
  } catch (e) {
    if (e instanceof ParquetSeekError || e instanceof AbortError) throw e
    throw new ParquetSeekError(`${what}: corrupt or unreadable data (${e instanceof Error ? e.message : String(e)})`, context)
  }
}
