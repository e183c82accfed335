import { ParquetSeekError } from '../errors.js'
import { crc32 } from './crc32.js'

/**
 * The small file format of the multi-file build's intermediate steps (a trained model, one
 * file's encoded part). Little-endian:
 *
 *   magic (16 bytes, ASCII, zero-padded) · u32 header length · header (UTF-8 JSON) · zeros to a
 *   64-byte boundary · sections, each on a 64-byte boundary
 *
 * The header's `sections` maps each section's name to { offset, length, crc32 } (offsets from the
 * file's first byte), so a reader checks every byte it uses.
 */
const MAGIC_BYTES = 16
const ALIGN = 64

export interface SectionRef {
  offset: number
  length: number
  crc32: number
}

type Sections = Record<string, ArrayBufferView>

const bytesOf = (v: ArrayBufferView) => new Uint8Array(v.buffer, v.byteOffset, v.byteLength)
const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN

/** One file's bytes: the header (with a `sections` table added) and the sections after it. */
export function writeContainer(magic: string, header: object, sections: Sections): Uint8Array {
  const encoder = new TextEncoder()
  // the header's length places the sections and the section table is in the header: grow the
  // first offset until the JSON fits before it
  let start = align(MAGIC_BYTES + 4)
  for (;;) {
    const refs: Record<string, SectionRef> = {}
    let at = start
    for (const [name, view] of Object.entries(sections)) {
      refs[name] = { offset: at, length: view.byteLength, crc32: crc32(bytesOf(view)) }
      at = align(at + view.byteLength)
    }
    const json = encoder.encode(JSON.stringify({ ...header, sections: refs }))
    const needed = align(MAGIC_BYTES + 4 + json.length)
    if (needed > start) {
      start = needed
      continue
    }
    const out = new Uint8Array(at)
    out.set(encoder.encode(magic.slice(0, MAGIC_BYTES)))
    new DataView(out.buffer).setUint32(MAGIC_BYTES, json.length, true)
    out.set(json, MAGIC_BYTES + 4)
    for (const [name, view] of Object.entries(sections)) out.set(bytesOf(view), (refs[name] as SectionRef).offset)
    return out
  }
}

export interface Container<H> {
  header: H
  /** A section's bytes, CRC-checked; a missing or damaged one is an error naming it. */
  section(name: string): Uint8Array
}

/** Parses what writeContainer wrote; every problem names the file and the byte offset. */
export function readContainer<H extends object>(bytes: Uint8Array, magic: string, file: string, what: string): Container<H> {
  const found = new TextDecoder().decode(bytes.subarray(0, magic.length))
  if (bytes.length < MAGIC_BYTES + 4 || found !== magic)
    throw new ParquetSeekError(`not a ${what} (no ${magic} magic)`, { file, offset: 0 })
  const length = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(MAGIC_BYTES, true)
  if (MAGIC_BYTES + 4 + length > bytes.length)
    throw new ParquetSeekError(`header of ${length} bytes runs past the end (${bytes.length} bytes)`, { file, offset: MAGIC_BYTES })
  let header: H & { sections?: Record<string, SectionRef> }
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(MAGIC_BYTES + 4, MAGIC_BYTES + 4 + length)))
  } catch {
    throw new ParquetSeekError('header is not JSON', { file, offset: MAGIC_BYTES + 4 })
  }
  if (typeof header !== 'object' || header === null || typeof header.sections !== 'object' || header.sections === null)
    throw new ParquetSeekError('header has no section table', { file, offset: MAGIC_BYTES + 4 })
  const sections = header.sections
  return {
    header,
    section(name) {
      const ref = sections[name]
      if (!ref || !Number.isSafeInteger(ref.offset) || !Number.isSafeInteger(ref.length) || ref.offset < 0 || ref.length < 0)
        throw new ParquetSeekError(`section "${name}" is missing or malformed`, { file, offset: MAGIC_BYTES + 4 })
      if (ref.offset + ref.length > bytes.length)
        throw new ParquetSeekError(`section "${name}" (${ref.length} bytes) runs past the end`, { file, offset: ref.offset })
      const body = bytes.subarray(ref.offset, ref.offset + ref.length)
      if (crc32(body) !== ref.crc32) throw new ParquetSeekError(`section "${name}" is damaged (CRC mismatch)`, { file, offset: ref.offset })
      return body
    },
  }
}

/** A typed view of a section (copied, so it is aligned whatever the section's offset). */
export function sectionAs<T extends Float32Array | Uint32Array | Uint8Array>(
  c: Container<unknown>,
  name: string,
  Type: { new (buffer: ArrayBuffer): T; BYTES_PER_ELEMENT: number },
  count: number,
  file: string,
): T {
  const body = c.section(name)
  if (body.length !== count * Type.BYTES_PER_ELEMENT)
    throw new ParquetSeekError(`section "${name}" has ${body.length} bytes, expected ${count * Type.BYTES_PER_ELEMENT}`, { file })
  // a copy of its own (a Node Buffer's slice() is a view into a shared pool, not a copy)
  return new Type(new Uint8Array(body).buffer as ArrayBuffer)
}
