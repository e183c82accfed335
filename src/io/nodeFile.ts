import { randomBytes } from 'node:crypto'
import { constants, type Stats } from 'node:fs'
import { type FileHandle, open, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { ParquetSeekError } from '../errors.js'
import type { ByteSink } from './sink.js'
import type { ByteSource } from './source.js'

/** A local file as a byte source; reads exactly the requested range with positional reads. */
export async function fileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  let handle: FileHandle
  try {
    // non-blocking: opening a FIFO for reading would otherwise wait for a writer forever
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
  } catch (e) {
    throw new ParquetSeekError(`cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: path })
  }
  const info = await handle.stat()
  if (!info.isFile()) {
    await handle.close()
    throw new ParquetSeekError(`is ${kindOf(info)}, not a regular file`, { file: path })
  }
  const { size } = info
  return {
    byteLength: size,
    name: basename(path),
    local: true,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? size, size)
      const length = Math.max(0, stop - start)
      const buf = new Uint8Array(length)
      let done = 0
      while (done < length) {
        const { bytesRead } = await handle.read(buf, done, length - done, start + done)
        if (bytesRead === 0) throw new ParquetSeekError('file shrank while being read', { file: path, offset: start + done })
        done += bytesRead
      }
      return buf.buffer
    },
    close: () => handle.close(),
  }
}

/**
 * A whole local file of at most `limit` bytes (manifests, model and part files, row lists):
 * special files are refused as by `fileSource`, larger files with an error naming the limit.
 */
export async function readLocalFile(path: string, limit: number): Promise<Uint8Array> {
  const source = await fileSource(path)
  try {
    if (source.byteLength > limit)
      throw new ParquetSeekError(`is ${source.byteLength} bytes, over the ${limit}-byte limit for this kind of file`, { file: path })
    return new Uint8Array(await source.slice(0, source.byteLength))
  } finally {
    await source.close()
  }
}

/**
 * Writes to `<dir>/.<name>.tmp-<random>` and renames onto `path` at commit, so an interrupted
 * build never leaves a half-written file under the final name. Refuses to target `input`.
 */
export async function fileSink(path: string, input?: string | string[]): Promise<ByteSink> {
  await checkOutputPath(path)
  const target = resolve(path)
  for (const one of typeof input === 'string' ? [input] : (input ?? [])) {
    if (await sameFile(target, resolve(one)))
      throw new ParquetSeekError('output path is an input file; refusing to overwrite the input', { file: path })
  }
  const temp = join(dirname(target), `.${basename(target)}.tmp-${randomBytes(6).toString('hex')}`)
  let handle: FileHandle | undefined
  try {
    handle = await open(temp, 'wx')
  } catch (e) {
    throw new ParquetSeekError(`cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: path })
  }
  let finished = false
  return {
    async write(bytes) {
      await handle?.write(bytes)
    },
    async writeAt(position, bytes) {
      await handle?.write(bytes, 0, bytes.length, position)
    },
    async commit() {
      await handle?.sync()
      await handle?.close()
      handle = undefined
      await rename(temp, target)
      finished = true
    },
    async abort() {
      if (finished) return
      finished = true
      await handle?.close().catch(() => {})
      handle = undefined
      await unlink(temp).catch(() => {})
    },
  }
}

/**
 * An output path must be a regular file or not exist yet: a rename onto a FIFO, a device
 * (/dev/null, run as root) or a directory would replace it. Commands call this before any work.
 */
export async function checkOutputPath(path: string): Promise<void> {
  const info = await stat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined
    throw new ParquetSeekError(`cannot use as the output (${e.code ?? e.message})`, { file: path })
  })
  if (info && !info.isFile())
    throw new ParquetSeekError(`the output is ${kindOf(info)}, not a regular file; refusing to replace it`, { file: path })
  const dir = await stat(dirname(resolve(path))).catch(() => undefined)
  if (!dir?.isDirectory()) throw new ParquetSeekError(`the output's folder ${dirname(resolve(path))} does not exist`, { file: path })
}

function kindOf(info: Stats): string {
  if (info.isDirectory()) return 'a directory'
  if (info.isFIFO()) return 'a named pipe (FIFO)'
  if (info.isCharacterDevice()) return 'a character device'
  if (info.isBlockDevice()) return 'a block device'
  if (info.isSocket()) return 'a socket'
  return 'not a regular file'
}

async function sameFile(a: string, b: string): Promise<boolean> {
  if (a === b) return true
  const [sa, sb] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)])
  return !!sa && !!sb && sa.dev === sb.dev && sa.ino === sb.ino
}
