import { randomBytes } from 'node:crypto'
import { constants, type Stats } from 'node:fs'
import { type FileHandle, open, rename, stat, unlink } from 'node:fs/promises'
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ParquetSeekError } from '../errors.js'
import { schemeOf, unreadableScheme } from './fileUrl.js'
import { installLocalFiles, type LocalFiles } from './local.js'
import type { ByteSink } from './sink.js'
import type { ByteSource } from './source.js'

/**
 * A local file as a byte source; reads exactly the requested range with positional reads.
 * `close()` lets the handle go; a read after it opens the file again, refusing one that changed
 * since (its size or modification time), so an index closed and searched again reads what it
 * opened or says why not.
 */
export async function fileSource(address: string): Promise<ByteSource & { close(): Promise<void> }> {
  // (a file: URL is its path; another scheme — s3://, gs:// — is no file here, whatever ENOENT would say)
  const scheme = unreadableScheme(address)
  if (scheme) throw new ParquetSeekError(scheme, { file: address })
  const path = localPath(address) ?? address
  const first = await openFile(path)
  const { size, mtimeMs } = first.info
  let handle: Promise<FileHandle> | undefined = Promise.resolve(first.handle)
  const reopen = async () => {
    const again = await openFile(path)
    if (again.info.size !== size || again.info.mtimeMs !== mtimeMs) {
      await again.handle.close()
      throw new ParquetSeekError('the file changed since it was opened (its size or modification time); open it again', { file: path })
    }
    return again.handle
  }
  return {
    byteLength: size,
    name: basename(path),
    local: true,
    async slice(start: number, end?: number): Promise<ArrayBuffer> {
      const stop = Math.min(end ?? size, size)
      const length = Math.max(0, stop - start)
      const buf = new Uint8Array(length)
      handle ??= reopen().catch((e) => {
        handle = undefined
        throw e
      })
      const h = await handle
      let done = 0
      while (done < length) {
        const { bytesRead } = await h.read(buf, done, length - done, start + done)
        if (bytesRead === 0) throw new ParquetSeekError('file shrank while being read', { file: path, offset: start + done })
        done += bytesRead
      }
      return buf.buffer
    },
    async close() {
      const h = handle
      handle = undefined
      await (await h?.catch(() => undefined))?.close()
    },
  }
}

/** A regular file opened for reading, and what it is. */
async function openFile(path: string): Promise<{ handle: FileHandle; info: Stats }> {
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
  return { handle, info }
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
  await refuseInput(path, typeof input === 'string' ? [input] : (input ?? []))
  const target = resolve(path)
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

/** An error when the output `path` is one of `inputs` (by another name too: a link, `./`): it would be replaced. */
export async function refuseInput(path: string, inputs: readonly string[]): Promise<void> {
  for (const input of inputs) {
    if (await sameFile(resolve(path), resolve(input)))
      throw new ParquetSeekError('output path is an input file; refusing to overwrite the input', { file: path })
  }
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

/** The path an address names: a plain path as it is, a `file:` URL's; undefined for any other URL. */
function localPath(address: string): string | undefined {
  const scheme = schemeOf(address)
  return scheme === 'file' ? fileURLToPath(address) : scheme === undefined ? address : undefined
}

/**
 * Node's local files, for the strings the library opens (io/local.ts): a plain path or a `file:`
 * URL is a file; any other scheme (`https:`, `hf:`) is not. Installed when this module loads, which
 * the package's `node` entry and the CLI do.
 */
export const nodeLocalFiles: LocalFiles = {
  pathOf: localPath,
  open: fileSource,
  read: readLocalFile,
  kind: async (path) => {
    const info = await stat(path).catch(() => undefined)
    return info?.isFile() ? 'file' : info?.isDirectory() ? 'folder' : undefined
  },
  sink: fileSink,
  paths: { resolve, relative, isAbsolute, dirname },
}
installLocalFiles(nodeLocalFiles)
