/**
 * LZ4 block compressor (the LZ4_RAW Parquet codec): greedy, one hash probe per position.
 *
 * Written here because the only pure-JS LZ4 package (lz4js) may start a match inside the
 * last 12 bytes of a block, which the reference decoder (DuckDB, Arrow) rejects as corrupt.
 * This one follows the block-format end rules: the last match starts at least 12 bytes
 * before the end and the last 5 bytes are literals.
 *
 * The decoder is here too: hyparquet-compressors' keeps copying a match whose length runs past
 * the output (the writes fall off the typed array), so a page of a few bytes claiming a long
 * match cost a second per MiB claimed. This one stops at the declared output size.
 */
const MIN_MATCH = 4
const LAST_LITERALS = 5
const MF_LIMIT = 12
const HASH_LOG = 14
const MAX_OFFSET = 65535
/** After 2^SKIP_STRENGTH misses in a row the scan step grows by one (LZ4's acceleration). */
const SKIP_STRENGTH = 6

/** Reused hash table: positions + 1 (0 = empty), keyed by a hash of 4 bytes. */
const table = new Int32Array(1 << HASH_LOG)

function lz4CompressBound(n: number): number {
  return n + Math.ceil(n / 255) + 16
}

export function lz4Compress(src: Uint8Array): Uint8Array {
  const n = src.length
  // An empty page body (a null row's page) stays empty: hyparquet's decoder rejects the
  // one-byte empty block, and readers skip decompression when the body has no bytes.
  if (n === 0) return new Uint8Array(0)
  const dst = new Uint8Array(lz4CompressBound(n))
  let d = 0
  let anchor = 0
  // a table sized to the input: clearing 64 KiB per 3 KiB vector page would cost more than the page
  const hashLog = Math.min(HASH_LOG, Math.max(8, Math.ceil(Math.log2(n))))
  const shift = 32 - hashLog
  table.fill(0, 0, 1 << hashLog)
  const matchLimit = n - MF_LIMIT // a match may start before this
  const matchEnd = n - LAST_LITERALS // a match must end at or before this
  let i = 0
  let misses = 0
  while (i < matchLimit) {
    const seq = read32(src, i)
    const h = Math.imul(seq, 2654435761) >>> shift
    let candidate = (table[h] ?? 0) - 1
    table[h] = i + 1
    if (candidate < 0 || i - candidate > MAX_OFFSET || read32(src, candidate) !== seq) {
      // incompressible stretches (float vectors mostly are) are crossed with growing steps
      i += 1 + (misses++ >> SKIP_STRENGTH)
      continue
    }
    misses = 0
    let len = MIN_MATCH
    while (i + len < matchEnd && src[i + len] === src[candidate + len]) len++
    // the match reaches back over literals that repeat too (as LZ4's does): fewer literals
    while (i > anchor && candidate > 0 && src[i - 1] === src[candidate - 1]) {
      i--
      candidate--
      len++
    }
    const token = d
    d = writeSequence(dst, d, src, anchor, i - anchor)
    const offset = i - candidate
    dst[d++] = offset & 0xff
    dst[d++] = offset >>> 8
    const extra = len - MIN_MATCH
    if (extra >= 15) {
      dst[token] = (dst[token] ?? 0) | 15
      d = writeLength(dst, d, extra - 15)
    } else {
      dst[token] = (dst[token] ?? 0) | extra
    }
    i += len
    anchor = i
    // the position just before the match's end goes in the table too, for the next match to find
    if (i - 2 < matchLimit) table[Math.imul(read32(src, i - 2), 2654435761) >>> shift] = i - 2 + 1
  }
  d = writeSequence(dst, d, src, anchor, n - anchor)
  return dst.subarray(0, d)
}

function read32(a: Uint8Array, i: number): number {
  return (a[i] ?? 0) | ((a[i + 1] ?? 0) << 8) | ((a[i + 2] ?? 0) << 16) | ((a[i + 3] ?? 0) << 24) | 0
}

/** Token (literal count in the high nibble; the match nibble is or-ed in later) + literals. */
function writeSequence(dst: Uint8Array, d: number, src: Uint8Array, start: number, literals: number): number {
  if (literals >= 15) {
    dst[d++] = 15 << 4
    d = writeLength(dst, d, literals - 15)
  } else {
    dst[d++] = literals << 4
  }
  dst.set(src.subarray(start, start + literals), d)
  return d + literals
}

function writeLength(dst: Uint8Array, d: number, rest: number): number {
  let r = rest
  while (r >= 255) {
    dst[d++] = 255
    r -= 255
  }
  dst[d++] = r
  return d
}

/**
 * Decodes one LZ4 block into exactly `outputLength` bytes. Throws on anything that does not
 * fit: a literal run or a match past the output or the input, an offset before the start, or
 * a block that ends short. Work is bounded by input + output size whatever the block claims.
 */
export function lz4DecompressBlock(input: Uint8Array, outputLength: number): Uint8Array {
  const out = new Uint8Array(outputLength)
  const end = lz4DecodeInto(input, out, 0)
  if (end !== outputLength) throw new Error(`lz4 block decodes to ${end} bytes, expected ${outputLength}`)
  return out
}

/**
 * As lz4DecompressBlock, into `out` (exactly the declared size: a subarray of a reused buffer)
 * instead of a new array — for the many small pages a search decodes.
 */
export function lz4DecompressBlockInto(input: Uint8Array, out: Uint8Array): Uint8Array {
  const end = lz4DecodeInto(input, out, 0)
  if (end !== out.length) throw new Error(`lz4 block decodes to ${end} bytes, expected ${out.length}`)
  return out
}

/** Decodes a block into `out` from `at`; returns where it ended. */
function lz4DecodeInto(input: Uint8Array, out: Uint8Array, at: number): number {
  let o = at
  let i = 0
  const n = input.length
  const length = (base: number): number => {
    let len = base
    if (base === 15) {
      for (;;) {
        if (i >= n) throw new Error('lz4 length runs past the input')
        const b = input[i++] as number
        len += b
        if (len > out.length) throw new Error('lz4 length runs past the output')
        if (b !== 255) break
      }
    }
    return len
  }
  while (i < n) {
    const token = input[i++] as number
    const literals = length(token >> 4)
    if (i + literals > n) throw new Error('lz4 literals run past the input')
    if (o + literals > out.length) throw new Error('lz4 literals run past the output')
    if (literals >= 32) {
      out.set(input.subarray(i, i + literals), o)
      o += literals
      i += literals
    } else for (let stop = i + literals; i < stop; ) out[o++] = input[i++] as number // no view made for a few bytes
    if (i === n) break // the last sequence has literals only
    if (i + 2 > n) throw new Error('lz4 match offset runs past the input')
    const offset = (input[i] as number) | ((input[i + 1] as number) << 8)
    i += 2
    if (offset === 0 || offset > o - at) throw new Error(`lz4 match offset ${offset} out of range`)
    const match = length(token & 15) + MIN_MATCH
    if (o + match > out.length) throw new Error('lz4 match runs past the output')
    if (match >= 32 && offset >= match) {
      out.copyWithin(o, o - offset, o - offset + match) // a long match clear of its own output
      o += match
    } else for (let p = o - offset, stop = o + match; o < stop; ) out[o++] = out[p++] as number
  }
  return o
}

/**
 * The Parquet LZ4 codec (deprecated): Hadoop framing (u32 BE decoded size, u32 BE block size,
 * block) as Arrow writes it, else one raw block — bounded like `lz4DecompressBlock`.
 */
export function lz4DecompressHadoop(input: Uint8Array, outputLength: number): Uint8Array {
  const out = new Uint8Array(outputLength)
  let i = 0
  let o = 0
  const be32 = (p: number) =>
    (((input[p] as number) << 24) | ((input[p + 1] as number) << 16) | ((input[p + 2] as number) << 8) | (input[p + 3] as number)) >>> 0
  while (i + 8 <= input.length) {
    const decoded = be32(i)
    const block = be32(i + 4)
    if (block > input.length - i - 8 || decoded > outputLength - o) break
    let end: number
    try {
      end = lz4DecodeInto(input.subarray(i + 8, i + 8 + block), out.subarray(0, o + decoded), o)
    } catch {
      break
    }
    if (end !== o + decoded) break
    i += 8 + block
    o += decoded
    if (i === input.length && o === outputLength) return out
  }
  return lz4DecompressBlock(input, outputLength)
}
