import { randomBytes } from 'node:crypto'
import { type FileHandle, open, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, join, resolve } from 'node:path'
import { ParquetSeekError } from '../errors.js'
import type { ByteSink } from './sink.js'
import type { ByteSource } from './source.js'

/** A local file as a byte source; reads exactly the requested range with positional reads. */
export async function fileSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  let handle: FileHandle
  try {
    handle = await open(path, 'r')
  } catch (e) {
    throw new ParquetSeekError(`cannot open (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { file: path })
  }
  const { size } = await handle.stat()
  return {
    byteLength: size,
    name: basename(path),
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
 * Writes to `<dir>/.<name>.tmp-<random>` and renames onto `path` at commit, so an interrupted
 * build never leaves a half-written file under the final name. Refuses to target `input`.
 */
export async function fileSink(path: string, input?: string | string[]): Promise<ByteSink> {
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

async function sameFile(a: string, b: string): Promise<boolean> {
  if (a === b) return true
  const [sa, sb] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)])
  return !!sa && !!sb && sa.dev === sb.dev && sa.ino === sb.ino
}
