/**
 * Where an output file goes. Writes are sequential; nothing is visible under the final name
 * until `commit` (Node: temp file + rename; browser: a Blob handed over at the end).
 */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<void>
  commit(): Promise<void>
  /** Discards everything written; safe to call after a failure, or twice. */
  abort(): Promise<void>
}

/** In-memory sink (browser download, tests). */
export class MemorySink implements ByteSink {
  private parts: Uint8Array[] = []
  private done = false
  bytes: Uint8Array | undefined

  async write(bytes: Uint8Array): Promise<void> {
    this.parts.push(bytes.slice())
  }

  async commit(): Promise<void> {
    if (this.done) return
    let total = 0
    for (const p of this.parts) total += p.length
    const out = new Uint8Array(total)
    let at = 0
    for (const p of this.parts) {
      out.set(p, at)
      at += p.length
    }
    this.parts = []
    this.bytes = out
    this.done = true
  }

  async abort(): Promise<void> {
    this.parts = []
    this.done = true
  }
}
