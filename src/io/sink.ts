/**
 * Where an output file goes. Writes are sequential; nothing is visible under the final name
 * until `commit` (Node: temp file + rename; browser: a Blob handed over at the end).
 */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>
  /**
   * Writes `bytes` at `position`, past the end too (bytes never written read as zeros), without
   * moving where `write` goes on (a file on disk, MemorySink). A sidecar's copy of the vectors
   * needs it: the vectors are written in the order the files hold them, each at its list entry.
   */
  writeAt?(position: number, bytes: Uint8Array): Promise<void>
  commit(): Promise<void>
  /** Discards everything written; safe to call after a failure, or twice. */
  abort(): Promise<void>
}

/** In-memory sink (browser download, tests). */
export class MemorySink implements ByteSink {
  private parts: Uint8Array[] = []
  /** What writeAt wrote, in order: laid over the parts at commit. */
  private placed: Array<{ position: number; bytes: Uint8Array }> = []
  private done = false
  bytes: Uint8Array | undefined

  async write(bytes: Uint8Array): Promise<void> {
    this.parts.push(bytes.slice())
  }

  async writeAt(position: number, bytes: Uint8Array): Promise<void> {
    this.placed.push({ position, bytes: bytes.slice() })
  }

  async commit(): Promise<void> {
    if (this.done) return
    let total = 0
    for (const p of this.parts) total += p.length
    for (const p of this.placed) total = Math.max(total, p.position + p.bytes.length)
    const out = new Uint8Array(total)
    let at = 0
    for (const p of this.parts) {
      out.set(p, at)
      at += p.length
    }
    for (const p of this.placed) out.set(p.bytes, p.position)
    this.parts = []
    this.placed = []
    this.bytes = out
    this.done = true
  }

  async abort(): Promise<void> {
    this.parts = []
    this.placed = []
    this.done = true
  }
}

/**
 * Browser sink that ends as a Blob: parts are handed to the Blob at commit and dropped, so the
 * output is never concatenated in JS memory (Chrome can keep a large Blob on disk).
 */
export class BlobSink implements ByteSink {
  private parts: Uint8Array<ArrayBuffer>[] = []
  blob: Blob | undefined

  async write(bytes: Uint8Array): Promise<void> {
    this.parts.push(bytes.slice() as Uint8Array<ArrayBuffer>)
  }

  async commit(): Promise<void> {
    if (this.blob) return
    this.blob = new Blob(this.parts, { type: 'application/vnd.apache.parquet' })
    this.parts = []
  }

  async abort(): Promise<void> {
    this.parts = []
  }
}

/** The part of the File System Access API's writable stream a sink needs. */
export interface WritableFile {
  write(data: Uint8Array<ArrayBuffer>): Promise<void>
  close(): Promise<void>
  abort(): Promise<void>
}

/**
 * Streams to a file the user picked (File System Access API): the browser writes to a swap
 * file and replaces the target only on close, so a failed or cancelled build leaves the old
 * file (or none) in place.
 */
export class WritableFileSink implements ByteSink {
  private closed = false
  constructor(private readonly writable: WritableFile) {}

  async write(bytes: Uint8Array): Promise<void> {
    await this.writable.write(bytes.slice() as Uint8Array<ArrayBuffer>)
  }

  async commit(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.writable.close()
  }

  async abort(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.writable.abort().catch(() => {})
  }
}
