/**
 * LZ4 block compressor (the LZ4_RAW Parquet codec): greedy, one hash probe per position.
 *
 * Written here because the only pure-JS LZ4 package (lz4js) may start a match inside the
 * last 12 bytes of a block, which the reference decoder (DuckDB, Arrow) rejects as corrupt.
 * This one follows the block-format end rules: the last match starts at least 12 bytes
 * before the end and the last 5 bytes are literals. Decoding uses hyparquet-compressors.
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
    const candidate = (table[h] ?? 0) - 1
    table[h] = i + 1
    if (candidate < 0 || i - candidate > MAX_OFFSET || read32(src, candidate) !== seq) {
      // incompressible stretches (float vectors mostly are) are crossed with growing steps
      i += 1 + (misses++ >> SKIP_STRENGTH)
      continue
    }
    misses = 0
    let len = MIN_MATCH
    while (i + len < matchEnd && src[i + len] === src[candidate + len]) len++
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
