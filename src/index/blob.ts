import { jsKernels, type Kernels, type RowScanner } from '../compute/backend.js'
import { ParquetSeekError } from '../errors.js'
import { gridOf, quantizedBytes, readQuantized, writeQuantized } from './centroids.js'
import { crc32 } from './crc32.js'
import { coProbeOrder, type ProbeSample } from './listOrder.js'
import { type IndexParams, type InvertedLists, type Metric, ownEnd, type PageLocations } from './model.js'
import { codebookRows, codebooksOfRows, pqLayout } from './pq.js'

/**
 * Index blob, format v5 (v1 to v4 are still read). Little-endian. Offsets are relative to the blob's first byte.
 *
 *   [lists][centroids][codebooks][directory][section table][trailer]
 *
 * The small sections sit at the end, next to the Parquet footer, so one read of the file's
 * tail returns footer + trailer + table + directory + codebooks + centroids. Each section
 * starts on a 64-byte boundary (typed-array views without copying); gaps are zero.
 *
 * trailer (64 bytes, last in the blob):
 *   0 magic "PQSEEKIX" · 8 u32 version (5; 1 to 4 in files written before) · 12 u32 0x01020304 (byte-order check)
 *   16 u32 sectionCount · 20 u32 metric (0 l2, 1 cosine, 2 dot) · 24 u32 dim · 28 u32 nlist
 *   32 u32 m · 36 u32 nbits · 40 u64 rows · 48 u64 indexedRows
 *   56 u32 CRC32 of the section table · 60 u32 CRC32 of trailer bytes 0..59
 * section table (sectionCount × 32 bytes, just before the trailer):
 *   u32 id · u32 CRC32 of the section · u64 offset · u64 length · u64 reserved (0)
 * sections:
 *   centroids  v2–v4: per dimension i32 exp, i32 base; then u8 codes[nlist × dim]: value = (base + code) · 2^exp
 *              (centroids.ts: one byte a value, exact float32 after decoding, so nlist can grow
 *              with the rows without growing the open); v1: f32[nlist × dim]
 *   codebooks  v4: the same grid as the centroids over the codebooks as 2^nbits rows of dim values
 *              (pq.ts codebookRows: entry c of every subspace side by side); per dimension i32 exp,
 *              i32 base, then u8 codes[2^nbits × dim] — one byte a value (768-d: 197 KiB instead of
 *              786). v1–v3: f32[2^nbits × dim] in pq.ts's layout
 *   directory  per list 24 bytes: u64 offset of the list inside `lists` · u32 entries · u32 list bytes
 *              · u32 CRC32 of the list · u32 spilled entries among them (v5; before: reserved, 0)
 *   lists      the lists packed one after another in storageOrder (nearby centroids together; the
 *              directory gives each list's offset); per list, entries ascending by row:
 *                u8 codes[n × m] (row-major: entry i's m codes at i·m)
 *                v3, v4, when n > 0: varints flags, firstRow, firstOffset, baseLength, then per entry
 *                only what the flags do not imply: row − previous row − 1 (flag 1: rows follow
 *                one another), pageOffset − previous page's end (flag 2: pages back to back),
 *                pageLength − baseLength (flag 4: every page baseLength long). A list of rows
 *                stored list by list (index --cluster-rows) is its codes and ~8 bytes.
 *                v5, a list holding rows spilled into it (compute/spill.ts; the directory says
 *                how many, s): its own n − s entries as above, then the s spilled ones (each a row
 *                whose first list is another) the same way — codes of all n entries first, then
 *                the two entry runs, each ascending by row and page on its own; a run of 0
 *                entries takes no bytes.
 *                v1/v2: per entry three varints: row − previous row, pageOffset − previous
 *                pageOffset (both from 0 for the first entry), pageLength (~5 bytes an entry).
 *              pageOffset/pageLength: the row's embedding data page in the file (header included),
 *              so refinement reads exactly that page without the column's offset index.
 */
export const MAGIC = 'PQSEEKIX'
export const VERSION = 5
/**
 * Versions this reader opens: v1 differs from v2 in its float32 centroids section, v2 from v3 in
 * its list entries, v3 from v4 in its float32 codebooks section, v4 from v5 in having no
 * spilled entries.
 */
const READABLE_VERSIONS = [1, 2, 3, 4, 5]
export const TRAILER_BYTES = 64
const SECTION_ENTRY_BYTES = 32
export const DIRECTORY_ENTRY_BYTES = 24
const ALIGN = 64

export const SECTION = { lists: 1, centroids: 2, codebooks: 3, directory: 4 } as const
export type SectionName = keyof typeof SECTION
const SECTION_NAMES = Object.fromEntries(Object.entries(SECTION).map(([k, v]) => [v, k])) as Record<number, SectionName>
const METRIC_CODES: Metric[] = ['l2', 'cosine', 'dot']

export interface SectionEntry {
  name: SectionName
  offset: number
  length: number
  crc: number
}

export interface Trailer {
  /** Blob format version (1 to 5). */
  version: number
  params: Pick<IndexParams, 'metric' | 'dim' | 'nlist' | 'm' | 'nbits' | 'rows' | 'indexedRows'>
  sections: Record<SectionName, SectionEntry>
  /** Bytes from the start of the centroids section to the end of the blob. */
  headBytes: number
}

export interface BlobInput {
  params: IndexParams
  centroids: Float32Array
  codebooks: Float32Array
  lists: InvertedLists
  /** Page location of each entry, in the same order as lists.rowIds. */
  pages: PageLocations
  /** storageOrder(centroids, …) when the caller has it already (a clustered build orders rows by it). */
  storage?: Uint32Array
}

export function writeBlob({ params, centroids, codebooks, lists, pages, storage }: BlobInput): Uint8Array {
  const { nlist, m, dim } = params
  // the lists were encoded against these centroids: storing others would skew every distance
  const grid = gridOf(centroids, nlist, dim)
  if (!grid) throw new Error('centroids are not on their grid: train with snapCentroids (centroids.ts) before encoding')
  // ...and against these codebooks
  const ksub = 2 ** params.nbits
  const bookGrid = gridOf(codebookRows(codebooks, pqLayout(dim, m, params.nbits)), ksub, dim, ['codebook row', 'codebooks'])
  if (!bookGrid) throw new Error('codebooks are not on their grid: train with snapCodebooks (pq.ts) before encoding')
  const encoded: Uint8Array[] = []
  let listsLength = 0
  for (let l = 0; l < nlist; l++) {
    const bytes = encodeList(lists, pages, l, m)
    encoded.push(bytes)
    listsLength += bytes.length
  }
  const layout: Array<[SectionName, number]> = [
    ['lists', listsLength],
    ['centroids', quantizedBytes(nlist, dim)],
    ['codebooks', quantizedBytes(ksub, dim)],
    ['directory', nlist * DIRECTORY_ENTRY_BYTES],
  ]
  const placed: SectionEntry[] = []
  let end = 0
  for (const [name, length] of layout) {
    const offset = align(end, ALIGN)
    placed.push({ name, offset, length, crc: 0 })
    end = offset + length
  }
  const tableOffset = align(end, 8)
  const total = tableOffset + placed.length * SECTION_ENTRY_BYTES + TRAILER_BYTES
  const out = new Uint8Array(total)
  const view = new DataView(out.buffer)
  const at = (name: SectionName) => placed.find((s) => s.name === name) as SectionEntry

  const listsBase = at('lists').offset
  const dirBase = at('directory').offset
  let listOffset = 0
  for (const l of storage ?? storageOrder(centroids, nlist, params.dim)) {
    const bytes = encoded[l] as Uint8Array
    out.set(bytes, listsBase + listOffset)
    const d = dirBase + DIRECTORY_ENTRY_BYTES * l
    view.setBigUint64(d, BigInt(listOffset), true)
    view.setUint32(d + 8, count(lists, l), true)
    view.setUint32(d + 12, bytes.length, true)
    view.setUint32(d + 16, crc32(bytes), true)
    view.setUint32(d + 20, count(lists, l) - (ownEnd(lists, l) - (lists.listStart[l] as number)), true)
    listOffset += bytes.length
  }
  writeQuantized(grid, dim, out, at('centroids').offset)
  writeQuantized(bookGrid, dim, out, at('codebooks').offset)

  placed.forEach((s, i) => {
    s.crc = crc32(out.subarray(s.offset, s.offset + s.length))
    const o = tableOffset + i * SECTION_ENTRY_BYTES
    view.setUint32(o, SECTION[s.name], true)
    view.setUint32(o + 4, s.crc, true)
    view.setBigUint64(o + 8, BigInt(s.offset), true)
    view.setBigUint64(o + 16, BigInt(s.length), true)
  })
  const t = total - TRAILER_BYTES
  for (let i = 0; i < MAGIC.length; i++) out[t + i] = MAGIC.charCodeAt(i)
  view.setUint32(t + 8, VERSION, true)
  view.setUint32(t + 12, 0x01020304, true)
  view.setUint32(t + 16, placed.length, true)
  view.setUint32(t + 20, METRIC_CODES.indexOf(params.metric), true)
  view.setUint32(t + 24, params.dim, true)
  view.setUint32(t + 28, nlist, true)
  view.setUint32(t + 32, m, true)
  view.setUint32(t + 36, params.nbits, true)
  view.setBigUint64(t + 40, BigInt(params.rows), true)
  view.setBigUint64(t + 48, BigInt(params.indexedRows), true)
  view.setUint32(t + 56, crc32(out.subarray(tableOffset, t)), true)
  view.setUint32(t + 60, crc32(out.subarray(t, t + 60)), true)
  return out
}

/** Above this many lists one walk over all of them (nlist² distances) takes too long: a walk of groups. */
const MAX_ORDERED_LISTS = 4096
/** Above this many lists the co-probe order's nearest centroids (nlist² distances) take too long. */
const MAX_CO_PROBED_LISTS = 8192

/**
 * The order lists are stored in, so the lists a query probes lie in a few runs of the file and a
 * host that answers one range a request is asked fewer ranges. With rows of the data to probe
 * (`sample`, a build's) and up to 8,192 lists: lists read together by the sample's rows side by
 * side ({@link coProbeOrder}). Otherwise (a merge of trained parts, more lists): a walk from list
 * 0 to the nearest centroid not yet taken (ties: the lower list); over 4,096 lists, group by group
 * ({@link groupedWalk}). The directory gives each list's offset, so readers need not know the order.
 */
export function storageOrder(
  centroids: Float32Array,
  nlist: number,
  dim: number,
  kernels: Kernels = jsKernels,
  sample?: ProbeSample,
): Uint32Array {
  if (sample?.n && nlist <= MAX_CO_PROBED_LISTS) return coProbeOrder(centroids, nlist, dim, sample, kernels)
  const all = Array.from({ length: nlist }, (_, l) => l)
  return Uint32Array.from(
    nlist > MAX_ORDERED_LISTS
      ? groupedWalk(centroids, nlist, dim, kernels)
      : walk(centroids, dim, all, 0, kernels.rowScanner(centroids, nlist, dim)),
  )
}

/** A scanner over the centroids of `lists`, one after another. */
function scannerOf(centroids: Float32Array, dim: number, lists: number[], kernels: Kernels): RowScanner {
  const rows = new Float32Array(lists.length * dim)
  for (const [i, l] of lists.entries()) rows.set(centroids.subarray(l * dim, (l + 1) * dim), i * dim)
  return kernels.rowScanner(rows, lists.length, dim)
}

/**
 * `lists` (ascending) in walk order from `start`: each next one the nearest not yet taken (ties:
 * the lower list); distances that are not numbers (a damaged model) leave the rest in id order.
 * Each step scores every list of the walk through `scanner` (over `lists`' centroids, in order;
 * the backend's l2, bit-identical between js and wasm): 4,000 lists of 100-d walk in 0.4 s with
 * wasm where a loop of js l2sq took 8 s.
 */
function walk(centroids: Float32Array, dim: number, lists: number[], start: number, scanner: RowScanner): number[] {
  const count = lists.length
  const taken = new Uint8Array(count)
  const distance = new Float32Array(count)
  taken[lists.indexOf(start)] = 1
  const order = [start]
  for (let step = 1; step < count; step++) {
    scanner.l2(centroids.subarray(start * dim, (start + 1) * dim), distance)
    let best = -1
    let bestDistance = Number.POSITIVE_INFINITY
    for (let i = 0; i < count; i++) {
      if (taken[i]) continue
      if (best < 0) best = i
      const d = distance[i] as number
      if (d < bestDistance) {
        bestDistance = d
        best = i
      }
    }
    taken[best] = 1
    start = lists[best] as number
    order.push(start)
  }
  return order
}

/**
 * Over MAX_ORDERED_LISTS lists: ⌈√nlist⌉ pivots (every ⌊nlist/groups⌋-th list), each list in the
 * group of its nearest pivot (ties: the lower pivot); the pivots walked from pivot 0, and each
 * group walked in turn from its list nearest the previous group's last (groups over
 * MAX_ORDERED_LISTS stay in id order). About nlist^1.5 distances: 0.4 s at 4,000 lists of 100-d,
 * where the single walk takes 4.2 s for nearly the same stretches a query (`npm run bench:order`).
 */
export function groupedWalk(centroids: Float32Array, nlist: number, dim: number, kernels: Kernels = jsKernels): number[] {
  const count = Math.ceil(Math.sqrt(nlist))
  const pivots = Array.from({ length: count }, (_, g) => Math.floor((g * nlist) / count))
  const members: number[][] = pivots.map(() => [])
  const everyList = kernels.rowScanner(centroids, nlist, dim)
  const nearest = new Uint32Array(nlist)
  const nearestDistance = new Float32Array(nlist).fill(Number.POSITIVE_INFINITY)
  const distance = new Float32Array(nlist)
  for (const [g, p] of pivots.entries()) {
    everyList.l2(centroids.subarray(p * dim, (p + 1) * dim), distance)
    for (let l = 0; l < nlist; l++) {
      if ((distance[l] as number) < (nearestDistance[l] as number)) {
        nearestDistance[l] = distance[l] as number
        nearest[l] = g
      }
    }
  }
  for (let l = 0; l < nlist; l++) (members[nearest[l] as number] as number[]).push(l)
  const order: number[] = []
  for (const p of walk(centroids, dim, pivots, 0, scannerOf(centroids, dim, pivots, kernels))) {
    const group = members[pivots.indexOf(p)] as number[]
    if (!group.length) continue
    if (group.length > MAX_ORDERED_LISTS) {
      order.push(...group)
      continue
    }
    const scanner = scannerOf(centroids, dim, group, kernels)
    const last = order.at(-1)
    let start = group[0] as number
    if (last !== undefined) {
      scanner.l2(centroids.subarray(last * dim, (last + 1) * dim), distance)
      let bestDistance = Number.POSITIVE_INFINITY
      for (const [i, l] of group.entries()) {
        const d = distance[i] as number
        if (d < bestDistance) {
          bestDistance = d
          start = l
        }
      }
    }
    order.push(...walk(centroids, dim, group, start, scanner))
  }
  return order
}

/** List entries' flags (format v3): what the entries need not store. */
const ROWS_FOLLOW = 1
const PAGES_ADJACENT = 2
const LENGTHS_EQUAL = 4

/**
 * List l's entries (indices into `lists`' arrays) in the order the list stores them: its own,
 * then those spilled into it ascending by row (clustering renumbered the rows after they were
 * grouped). Readers' `ListView.rowIds[at]` is entry `at` of this order.
 */
export function storedEntries(lists: InvertedLists, l: number): number[] {
  const start = lists.listStart[l] as number
  const own = ownEnd(lists, l)
  const spilled = Array.from({ length: start + count(lists, l) - own }, (_, i) => own + i).sort(
    (a, b) => (lists.rowIds[a] as number) - (lists.rowIds[b] as number),
  )
  return [...Array.from({ length: own - start }, (_, i) => start + i), ...spilled]
}

function encodeList(lists: InvertedLists, pages: PageLocations, l: number, m: number): Uint8Array {
  const n = count(lists, l)
  if (n === 0) return new Uint8Array(0)
  const own = ownEnd(lists, l)
  const entries = storedEntries(lists, l)
  const spilled = entries.slice(own - (lists.listStart[l] as number))
  const out = new Uint8Array(n * m + 2 * 4 * 10 + n * 3 * 10)
  for (const [i, e] of entries.entries()) out.set(lists.codes.subarray(e * m, (e + 1) * m), i * m)
  let at = encodeRun(entries.slice(0, own - (lists.listStart[l] as number)), lists, pages, l, out, n * m)
  at = encodeRun(spilled, lists, pages, l, out, at)
  return out.slice(0, at)
}

/** One run of a list's entries (ascending by row and page) as flags, first values and per-entry varints, at `at`. */
function encodeRun(run: number[], lists: InvertedLists, pages: PageLocations, l: number, out: Uint8Array, at: number): number {
  if (!run.length) return at
  const row = (i: number) => lists.rowIds[run[i] as number] as number
  const offset = (i: number) => pages.offsets[run[i] as number] as number
  const length = (i: number) => pages.lengths[run[i] as number] as number
  let flags = ROWS_FOLLOW | PAGES_ADJACENT | LENGTHS_EQUAL
  let baseLength = length(0)
  for (let i = 1; i < run.length; i++) {
    if (row(i) <= row(i - 1) || offset(i) < offset(i - 1) + length(i - 1)) throw new Error(`list ${l} is not ascending by row and page`)
    if (row(i) !== row(i - 1) + 1) flags &= ~ROWS_FOLLOW
    if (offset(i) !== offset(i - 1) + length(i - 1)) flags &= ~PAGES_ADJACENT
    if (length(i) !== baseLength) flags &= ~LENGTHS_EQUAL
    baseLength = Math.min(baseLength, length(i))
  }
  for (const v of [flags, row(0), offset(0), baseLength]) at = writeVarint(out, at, v)
  for (let i = 0; i < run.length; i++) {
    if (i > 0 && !(flags & ROWS_FOLLOW)) at = writeVarint(out, at, row(i) - row(i - 1) - 1)
    if (i > 0 && !(flags & PAGES_ADJACENT)) at = writeVarint(out, at, offset(i) - offset(i - 1) - length(i - 1))
    if (!(flags & LENGTHS_EQUAL)) at = writeVarint(out, at, length(i) - baseLength)
  }
  return at
}

function writeVarint(out: Uint8Array, at: number, value: number): number {
  let v = value
  while (v >= 0x80) {
    out[at++] = (v % 0x80) | 0x80
    v = Math.floor(v / 0x80)
  }
  out[at++] = v
  return at
}

function count(lists: InvertedLists, l: number): number {
  return (lists.listStart[l + 1] as number) - (lists.listStart[l] as number)
}

function align(n: number, to: number): number {
  return Math.ceil(n / to) * to
}

export interface ParseContext {
  file?: string
  /** Absolute file offset of the blob's first byte, for error messages. */
  blobOffset?: number
}

/**
 * Parses trailer and section table from the blob's last bytes (`tail` ends where the blob ends;
 * it must hold at least the trailer and table). Validates magic, version, CRCs and bounds.
 */
export function parseTrailer(tail: Uint8Array, blobLength: number, ctx: ParseContext = {}): Trailer {
  const fail = (message: string, section: string, at: number): never => {
    throw new ParquetSeekError(message, { file: ctx.file, section, offset: (ctx.blobOffset ?? 0) + at })
  }
  const tailStart = blobLength - tail.length
  if (tail.length < TRAILER_BYTES || blobLength < TRAILER_BYTES) fail('index blob is shorter than its trailer', 'trailer', 0)
  const view = new DataView(tail.buffer, tail.byteOffset, tail.byteLength)
  const t = tail.length - TRAILER_BYTES
  const tAbs = tailStart + t
  const magic = String.fromCharCode(...tail.subarray(t, t + 8))
  if (magic !== MAGIC) fail(`bad magic ${JSON.stringify(magic)}, expected ${MAGIC}`, 'trailer', tAbs)
  if (crc32(tail.subarray(t, t + 60)) !== view.getUint32(t + 60, true)) fail('CRC mismatch', 'trailer', tAbs)
  const version = view.getUint32(t + 8, true)
  if (!READABLE_VERSIONS.includes(version))
    fail(`unsupported index version ${version} (this reader knows ${READABLE_VERSIONS.join(' and ')})`, 'trailer', tAbs)
  if (view.getUint32(t + 12, true) !== 0x01020304) fail('byte-order mark is wrong', 'trailer', tAbs)
  const sectionCount = view.getUint32(t + 16, true)
  const metric = METRIC_CODES[view.getUint32(t + 20, true)]
  const dim = view.getUint32(t + 24, true)
  const nlist = view.getUint32(t + 28, true)
  const m = view.getUint32(t + 32, true)
  const nbits = view.getUint32(t + 36, true)
  const rows = u64(view, t + 40, () => fail('row count too large', 'trailer', tAbs + 40))
  const indexedRows = u64(view, t + 48, () => fail('indexed row count too large', 'trailer', tAbs + 48))
  if (!metric) fail('unknown metric code', 'trailer', tAbs + 20)
  if (dim < 1 || nlist < 1 || m < 1 || m > dim || nbits < 1 || nbits > 8 || indexedRows > rows || sectionCount > 64) {
    fail(`implausible parameters dim=${dim} nlist=${nlist} m=${m} nbits=${nbits}`, 'trailer', tAbs)
  }
  const tableBytes = sectionCount * SECTION_ENTRY_BYTES
  const table = t - tableBytes
  if (table < 0) fail(`section table (${tableBytes} bytes) is not in the ${tail.length} tail bytes read`, 'section-table', tailStart)
  if (crc32(tail.subarray(table, t)) !== view.getUint32(t + 56, true)) fail('CRC mismatch', 'section-table', tailStart + table)
  const sections: Partial<Record<SectionName, SectionEntry>> = {}
  for (let i = 0; i < sectionCount; i++) {
    const o = table + i * SECTION_ENTRY_BYTES
    const name = SECTION_NAMES[view.getUint32(o, true)]
    if (!name) continue // unknown sections from newer writers are skipped
    const offset = u64(view, o + 8, () => fail('offset too large', name, tailStart + o))
    const length = u64(view, o + 16, () => fail('length too large', name, tailStart + o))
    if (offset + length > tailStart + table) fail(`section [${offset}, ${offset + length}) overruns the blob`, name, offset)
    sections[name] = { name, offset, length, crc: view.getUint32(o + 4, true) }
  }
  const expected: Record<SectionName, number | undefined> = {
    centroids: version === 1 ? nlist * dim * 4 : quantizedBytes(nlist, dim),
    codebooks: version < 4 ? 2 ** nbits * dim * 4 : quantizedBytes(2 ** nbits, dim),
    directory: nlist * DIRECTORY_ENTRY_BYTES,
    lists: undefined,
  }
  for (const name of Object.keys(SECTION) as SectionName[]) {
    const s = sections[name]
    if (!s) fail('section missing', name, tAbs)
    const want = expected[name]
    if (s && want !== undefined && s.length !== want) fail(`length ${s.length}, expected ${want}`, name, s.offset)
    if (s && name === 'lists' && s.length < indexedRows * m) fail('too short for the indexed rows', name, s.offset)
  }
  const all = sections as Record<SectionName, SectionEntry>
  return {
    version,
    params: { metric: metric as Metric, dim, nlist, m, nbits, rows, indexedRows },
    sections: all,
    headBytes: blobLength - all.centroids.offset,
  }
}

/** Checks a section's CRC; `bytes` holds exactly that section. */
export function checkSection(bytes: Uint8Array, section: SectionEntry, ctx: ParseContext = {}): void {
  if (bytes.length !== section.length || crc32(bytes) !== section.crc) {
    throw new ParquetSeekError('CRC mismatch', { file: ctx.file, section: section.name, offset: (ctx.blobOffset ?? 0) + section.offset })
  }
}

export interface DirectoryEntry {
  offset: number
  count: number
  length: number
  crc: number
  /** The blob's format version, which says how the list's entries are encoded. */
  version: number
  /** Of `count`, the entries spilled into this list (the last ones; v5). */
  spilled: number
}

export function parseDirectory(bytes: Uint8Array, trailer: Trailer, ctx: ParseContext = {}): DirectoryEntry[] {
  const { nlist, m, indexedRows } = trailer.params
  const lists = trailer.sections.lists
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out: DirectoryEntry[] = []
  let total = 0
  let spilledTotal = 0
  for (let l = 0; l < nlist; l++) {
    const o = l * DIRECTORY_ENTRY_BYTES
    const fail = (message: string): never => {
      throw new ParquetSeekError(`list ${l}: ${message}`, {
        file: ctx.file,
        section: 'directory',
        offset: (ctx.blobOffset ?? 0) + trailer.sections.directory.offset + o,
      })
    }
    const offset = u64(view, o, () => fail('offset too large'))
    const n = view.getUint32(o + 8, true)
    const length = view.getUint32(o + 12, true)
    const spilled = trailer.version >= 5 ? view.getUint32(o + 20, true) : 0
    if (spilled > n) fail(`${spilled} spilled entries of ${n}`)
    // after the codes, v3: 4 varints a run (v5: up to two runs), then 0–3 an entry; v1/v2: 3 varints an entry
    const runs = (n > spilled ? 1 : 0) + (spilled ? 1 : 0)
    const [least, most] = trailer.version >= 3 ? [n * m + 4 * runs, n * (m + 30) + 40 * runs] : [n * (m + 3), n * (m + 30)]
    if (offset + length > lists.length || length < least || length > most)
      fail(`[${offset}, +${length}) does not fit ${n} entries inside the lists section`)
    total += n - spilled
    spilledTotal += spilled
    out.push({ offset, count: n, length, crc: view.getUint32(o + 16, true), version: trailer.version, spilled })
  }
  if (total !== indexedRows) {
    throw new ParquetSeekError(`lists hold ${total} entries, the trailer says ${indexedRows}`, { file: ctx.file, section: 'directory' })
  }
  if (spilledTotal > indexedRows) {
    throw new ParquetSeekError(`lists hold ${spilledTotal} spilled entries, more than the ${indexedRows} rows`, {
      file: ctx.file,
      section: 'directory',
    })
  }
  return out
}

export interface ListView {
  /** Absolute file offset of each entry's vector page. */
  pageOffsets: Float64Array
  rowIds: Uint32Array
  pageLengths: Uint32Array
  codes: Uint8Array
}

/** What a list's entries may point at: rows of the file, pages inside it. */
export interface ListLimits {
  /** Rows in the file (or files) the index covers: every row id must be below it. */
  rows?: number
  /** Size of the file holding the vector pages (absent for a sidecar's several files). */
  fileBytes?: number
}

/**
 * Decodes one list's bytes (exactly `entry.length` of them), CRC-checked. Row ids must ascend
 * strictly (a row once per list) and stay below `limits.rows`; pages must lie inside the file:
 * an index whose CRCs match but whose contents do not fit the file is refused here, when the
 * list is first read, at a cost linear in the list.
 */
export function parseList(
  bytes: Uint8Array,
  entry: DirectoryEntry,
  m: number,
  list: number,
  ctx: ParseContext = {},
  limits: ListLimits = {},
): ListView {
  const n = entry.count
  const fail = (message: string): never => {
    throw new ParquetSeekError(`list ${list}: ${message}`, { file: ctx.file, section: 'lists', offset: ctx.blobOffset })
  }
  if (bytes.length !== entry.length || crc32(bytes) !== entry.crc) fail('CRC mismatch')
  const rowIds = new Uint32Array(n)
  const pageOffsets = new Float64Array(n)
  const pageLengths = new Uint32Array(n)
  const cursor = { at: n * m }
  const rows = limits.rows ?? 2 ** 32
  const fileBytes = limits.fileBytes ?? Number.MAX_SAFE_INTEGER
  const next = () => readVarint(bytes, cursor, fail)
  const check = (i: number, row: number, offset: number, length: number) => {
    if (row >= rows) fail(`row id ${row} is past the ${rows} rows of the file`)
    if (offset + length > fileBytes) fail(`row ${row}'s page [${offset}, +${length}) is outside the ${fileBytes}-byte file`)
    rowIds[i] = row
    pageOffsets[i] = offset
    pageLengths[i] = length
  }
  if (entry.version >= 3) {
    // v5: the list's own entries, then those spilled into it, each run ascending on its own
    const runs = [
      [0, n - entry.spilled],
      [n - entry.spilled, n],
    ] as const
    for (const [from, to] of runs) {
      if (from === to) continue
      const [flags, firstRow, firstOffset, baseLength] = [next(), next(), next(), next()]
      if (flags & ~(ROWS_FOLLOW | PAGES_ADJACENT | LENGTHS_EQUAL)) fail(`unknown entry flags ${flags}`)
      let [row, offset, length] = [firstRow, firstOffset, 0]
      for (let i = from; i < to; i++) {
        if (i > from) {
          row += flags & ROWS_FOLLOW ? 1 : 1 + next()
          offset += length + (flags & PAGES_ADJACENT ? 0 : next())
        }
        length = baseLength + (flags & LENGTHS_EQUAL ? 0 : next())
        check(i, row, offset, length)
      }
    }
  } else {
    let row = 0
    let offset = 0
    for (let i = 0; i < n; i++) {
      const step = next()
      if (i > 0 && step === 0) fail(`row ${row} is listed twice`)
      row += step
      offset += next()
      check(i, row, offset, next())
    }
  }
  if (cursor.at !== bytes.length) fail(`${bytes.length - cursor.at} trailing bytes`)
  return { pageOffsets, rowIds, pageLengths, codes: bytes.subarray(0, n * m) }
}

function readVarint(bytes: Uint8Array, cursor: { at: number }, fail: (m: string) => never): number {
  let value = 0
  let scale = 1
  for (let shift = 0; shift < 53; shift += 7) {
    if (cursor.at >= bytes.length) return fail('truncated varint')
    const b = bytes[cursor.at++] as number
    value += (b & 0x7f) * scale
    if (b < 0x80) return value
    scale *= 0x80
  }
  return fail('varint too long')
}

/** Refuses a float section holding NaN or ±Infinity (distances to it would be meaningless). */
export function checkFinite(values: Float32Array, section: SectionEntry, ctx: ParseContext = {}): Float32Array {
  for (let i = 0; i < values.length; i++)
    if (!Number.isFinite(values[i] as number))
      throw new ParquetSeekError(`value ${i} is ${values[i]}: centroids and codebooks must be finite`, {
        file: ctx.file,
        section: section.name,
        offset: (ctx.blobOffset ?? 0) + section.offset + 4 * i,
      })
  return values
}

/** The coarse centroids out of exactly their section's bytes (CRC already checked), as float32. */
export function readCentroids(bytes: Uint8Array, trailer: Trailer, ctx: ParseContext = {}): Float32Array {
  const section = trailer.sections.centroids
  if (trailer.version === 1) return checkFinite(floatSection(bytes), section, ctx)
  const { nlist, dim } = trailer.params
  return readQuantized(bytes, nlist, dim, (message, at) => {
    throw new ParquetSeekError(message, { file: ctx.file, section: section.name, offset: (ctx.blobOffset ?? 0) + section.offset + at })
  })
}

/** The PQ codebooks out of exactly their section's bytes (CRC already checked), as float32 in pq.ts's layout. */
export function readCodebooks(bytes: Uint8Array, trailer: Trailer, ctx: ParseContext = {}): Float32Array {
  const section = trailer.sections.codebooks
  if (trailer.version < 4) return checkFinite(floatSection(bytes), section, ctx)
  const { dim, m, nbits } = trailer.params
  const rows = readQuantized(bytes, 2 ** nbits, dim, (message, at) => {
    throw new ParquetSeekError(message, { file: ctx.file, section: section.name, offset: (ctx.blobOffset ?? 0) + section.offset + at })
  })
  return codebooksOfRows(rows, pqLayout(dim, m, nbits))
}

export function floatSection(bytes: Uint8Array): Float32Array {
  const aligned = bytes.byteOffset % 4 === 0 ? bytes : bytes.slice()
  return new Float32Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 4)
}

function u64(view: DataView, at: number, tooLarge: () => never): number {
  const v = view.getBigUint64(at, true)
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) tooLarge()
  return Number(v)
}
