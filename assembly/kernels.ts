// WebAssembly SIMD kernels (AssemblyScript). Built by scripts/build-wasm.mjs; never edit the .wasm.
//
// Every pointer is a byte offset into this module's memory, laid out by the caller
// (src/compute/wasm.ts), 16-byte aligned. Each kernel computes exactly what its reference in
// src/compute/js.ts computes, bit for bit: float32 arithmetic in the same order. SIMD lanes run
// across independent outputs (centroids, codes, table entries) or across the fixed 16 partial
// sums the reference defines for dot/L2, never re-associating a sum in another way.

/** First free byte after the module's static data, 64-byte aligned. */
export function heapBase(): usize {
  return (__heap_base + 63) & ~(<usize>63)
}

// ---------------------------------------------------------------------------------------------
// 16-lane dot / squared L2 (js.ts dot, l2sq): partial sum l accumulates terms t ≡ l (mod 16);
// then lanes l, l+4, l+8, l+12 combine as (s_l + s_{l+4}) + (s_{l+8} + s_{l+12}) and the four
// results as (L0 + L1) + (L2 + L3).

function reduce16(a0: v128, a1: v128, a2: v128, a3: v128): f32 {
  const s = f32x4.add(f32x4.add(a0, a1), f32x4.add(a2, a3))
  return f32x4.extract_lane(s, 0) + f32x4.extract_lane(s, 1) + (f32x4.extract_lane(s, 2) + f32x4.extract_lane(s, 3))
}

/** Spill area for the ≤ 15 trailing terms of a 16-lane sum. */
const tmp: usize = memory.data(64, 16)

function l2sq16(a: usize, b: usize, dim: i32): f32 {
  let a0 = f32x4.splat(0)
  let a1 = f32x4.splat(0)
  let a2 = f32x4.splat(0)
  let a3 = f32x4.splat(0)
  let t = 0
  for (; t + 16 <= dim; t += 16) {
    const pa = a + ((<usize>t) << 2)
    const pb = b + ((<usize>t) << 2)
    const d0 = f32x4.sub(v128.load(pa), v128.load(pb))
    const d1 = f32x4.sub(v128.load(pa, 16), v128.load(pb, 16))
    const d2 = f32x4.sub(v128.load(pa, 32), v128.load(pb, 32))
    const d3 = f32x4.sub(v128.load(pa, 48), v128.load(pb, 48))
    a0 = f32x4.add(a0, f32x4.mul(d0, d0))
    a1 = f32x4.add(a1, f32x4.mul(d1, d1))
    a2 = f32x4.add(a2, f32x4.mul(d2, d2))
    a3 = f32x4.add(a3, f32x4.mul(d3, d3))
  }
  // trailing groups of four: term t (t − 16·⌊t/16⌋ = lane) lands in the same partial sum
  if (t + 4 <= dim) {
    const d = f32x4.sub(v128.load(a + ((<usize>t) << 2)), v128.load(b + ((<usize>t) << 2)))
    a0 = f32x4.add(a0, f32x4.mul(d, d))
    t += 4
    if (t + 4 <= dim) {
      const d = f32x4.sub(v128.load(a + ((<usize>t) << 2)), v128.load(b + ((<usize>t) << 2)))
      a1 = f32x4.add(a1, f32x4.mul(d, d))
      t += 4
      if (t + 4 <= dim) {
        const d = f32x4.sub(v128.load(a + ((<usize>t) << 2)), v128.load(b + ((<usize>t) << 2)))
        a2 = f32x4.add(a2, f32x4.mul(d, d))
        t += 4
      }
    }
  }
  if (t < dim) {
    v128.store(tmp, a0)
    v128.store(tmp, a1, 16)
    v128.store(tmp, a2, 32)
    v128.store(tmp, a3, 48)
    for (; t < dim; t++) {
      const d = load<f32>(a + ((<usize>t) << 2)) - load<f32>(b + ((<usize>t) << 2))
      const p = tmp + ((<usize>(t & 15)) << 2)
      store<f32>(p, load<f32>(p) + d * d)
    }
    a0 = v128.load(tmp)
    a1 = v128.load(tmp, 16)
    a2 = v128.load(tmp, 32)
    a3 = v128.load(tmp, 48)
  }
  return reduce16(a0, a1, a2, a3)
}

function dot16(a: usize, b: usize, dim: i32): f32 {
  let a0 = f32x4.splat(0)
  let a1 = f32x4.splat(0)
  let a2 = f32x4.splat(0)
  let a3 = f32x4.splat(0)
  let t = 0
  for (; t + 16 <= dim; t += 16) {
    const pa = a + ((<usize>t) << 2)
    const pb = b + ((<usize>t) << 2)
    a0 = f32x4.add(a0, f32x4.mul(v128.load(pa), v128.load(pb)))
    a1 = f32x4.add(a1, f32x4.mul(v128.load(pa, 16), v128.load(pb, 16)))
    a2 = f32x4.add(a2, f32x4.mul(v128.load(pa, 32), v128.load(pb, 32)))
    a3 = f32x4.add(a3, f32x4.mul(v128.load(pa, 48), v128.load(pb, 48)))
  }
  // trailing groups of four, each in its lanes' partial sums (as in l2sq16)
  if (t + 4 <= dim) {
    a0 = f32x4.add(a0, f32x4.mul(v128.load(a + ((<usize>t) << 2)), v128.load(b + ((<usize>t) << 2))))
    t += 4
    if (t + 4 <= dim) {
      a1 = f32x4.add(a1, f32x4.mul(v128.load(a + ((<usize>t) << 2)), v128.load(b + ((<usize>t) << 2))))
      t += 4
      if (t + 4 <= dim) {
        a2 = f32x4.add(a2, f32x4.mul(v128.load(a + ((<usize>t) << 2)), v128.load(b + ((<usize>t) << 2))))
        t += 4
      }
    }
  }
  if (t < dim) {
    v128.store(tmp, a0)
    v128.store(tmp, a1, 16)
    v128.store(tmp, a2, 32)
    v128.store(tmp, a3, 48)
    for (; t < dim; t++) {
      const p = tmp + ((<usize>(t & 15)) << 2)
      store<f32>(p, load<f32>(p) + load<f32>(a + ((<usize>t) << 2)) * load<f32>(b + ((<usize>t) << 2)))
    }
    a0 = v128.load(tmp)
    a1 = v128.load(tmp, 16)
    a2 = v128.load(tmp, 32)
    a3 = v128.load(tmp, 48)
  }
  return reduce16(a0, a1, a2, a3)
}

/**
 * out[qi·n + i] = l2sq (kind 0) or dot (kind 1) of query qi and row i. Rows are the outer loop
 * so each row is read from memory once for all queries.
 */
export function distances(kind: i32, queries: usize, nq: i32, x: usize, n: i32, dim: i32, out: usize): void {
  const rowBytes = (<usize>dim) << 2
  for (let i = 0; i < n; i++) {
    const row = x + <usize>i * rowBytes
    for (let qi = 0; qi < nq; qi++) {
      const q = queries + <usize>qi * rowBytes
      const v = kind === 0 ? l2sq16(q, row, dim) : dot16(q, row, dim)
      store<f32>(out + ((<usize>qi * <usize>n + <usize>i) << 2), v)
    }
  }
}

/** Squared norm (16-lane dot of a row with itself) of each of n rows. */
export function rowNormsSq(x: usize, n: i32, dim: i32, out: usize): void {
  const rowBytes = (<usize>dim) << 2
  for (let i = 0; i < n; i++) {
    const row = x + <usize>i * rowBytes
    store<f32>(out + ((<usize>i) << 2), dot16(row, row, dim))
  }
}

// ---------------------------------------------------------------------------------------------
// k-means++ seeding step (js.ts seedScan): rows of one byte a value, `stride` bytes each (a
// multiple of 16, zero padded); integer squared L2 to row `pick`, exact, so any summation order
// gives the same bits. 16 bytes a step: |a − b| as bytes (saturating subtractions both ways),
// widened to i16 and squared-and-paired by dot_i16x8_s (each lane ≤ 2 · 255², no overflow).

/** minDist[i] = min(minDist[i], ‖row pick − row i‖²) for i < n; returns Σ minDist. */
export function seedScan(rows: usize, n: i32, stride: i32, pick: i32, minDist: usize): f64 {
  const p = rows + <usize>pick * <usize>stride
  let total: f64 = 0
  for (let i = 0; i < n; i++) {
    const r = rows + <usize>i * <usize>stride
    let acc = i32x4.splat(0)
    for (let j = 0; j < stride; j += 16) {
      const a = v128.load(r + <usize>j)
      const b = v128.load(p + <usize>j)
      const d = v128.or(i8x16.sub_sat_u(a, b), i8x16.sub_sat_u(b, a))
      const lo = i16x8.extend_low_i8x16_u(d)
      const hi = i16x8.extend_high_i8x16_u(d)
      acc = i32x4.add(acc, i32x4.add(i32x4.dot_i16x8_s(lo, lo), i32x4.dot_i16x8_s(hi, hi)))
    }
    const s =
      <u32>i32x4.extract_lane(acc, 0) + <u32>i32x4.extract_lane(acc, 1) + <u32>i32x4.extract_lane(acc, 2) + <u32>i32x4.extract_lane(acc, 3)
    const at = minDist + ((<usize>i) << 2)
    const m = load<u32>(at)
    const v = s < m ? s : m
    store<u32>(at, v)
    total += <f64>v
  }
  return total
}

// ---------------------------------------------------------------------------------------------
// Nearest centroid (js.ts assignNearest): score_c = ‖c‖² − 2·(x·c), the dot summed in order
// t = 0…len−1; the lowest score wins, ties to the lower index. Centroids come transposed
// (`ct`: len × kpad floats, centroid c's t-th value at t·kpad + c), kpad a multiple of 16 with
// padding centroids of norm +∞ (never chosen). Lanes run across 16 centroids at once, for two
// rows at a time; each lane keeps its own running minimum (strict <, ascending c), and the
// lanes are merged by (value, index) — the same winner as one sequential scan.
//
// Blocked for the caches: a block of centroids small enough for L1 is scored against a block of
// ROW_BLOCK rows before the next centroid block, each row keeping its best so far (strict <, so a
// later block wins only by a lower score: still the sequential scan's winner). Streaming every
// centroid past each pair of rows instead read 1.6 MB from L3 per pair at 4,000 × 100-d.

const ROW_BLOCK = 256
/** Each row of the current row block's best score so far (its index is kept in outIdx). */
const bestScore = memory.data(ROW_BLOCK * 4, 16)
/** Bytes of transposed centroids scored per block: within L1 with the rows' lines beside them. */
const CENTROID_BLOCK_BYTES = 24576

/** Merges the lanes of a running minimum by (value, index) into row slot `i` when strictly lower. */
function settle(bestV: v128, bestI: v128, i: i32, outIdx: usize): void {
  let v = f32x4.extract_lane(bestV, 0)
  let b = i32x4.extract_lane(bestI, 0)
  for (let l = 1; l < 4; l++) {
    const lv = l === 1 ? f32x4.extract_lane(bestV, 1) : l === 2 ? f32x4.extract_lane(bestV, 2) : f32x4.extract_lane(bestV, 3)
    const li = l === 1 ? i32x4.extract_lane(bestI, 1) : l === 2 ? i32x4.extract_lane(bestI, 2) : i32x4.extract_lane(bestI, 3)
    if (lv < v || (lv === v && li < b)) {
      v = lv
      b = li
    }
  }
  const slot = bestScore + ((<usize>(i & (ROW_BLOCK - 1))) << 2)
  if (v < load<f32>(slot)) {
    store<f32>(slot, v)
    store<u32>(outIdx + ((<usize>i) << 2), b)
  }
}

/**
 * For n rows (row i at x + i·stride floats, `len` values each), the nearest of the kpad
 * transposed centroids; indices to outIdx (u32 each).
 */
export function nearest(x: usize, n: i32, stride: i32, len: i32, ct: usize, norms: usize, kpad: i32, outIdx: usize): void {
  const rowBytes = (<usize>stride) << 2
  const colBytes = (<usize>kpad) << 2
  const inf = f32x4.splat(Infinity)
  const four = i32x4.splat(4)
  const block = max(1, CENTROID_BLOCK_BYTES / (max(1, len) * 64)) * 16
  for (let r = 0; r < n; r += ROW_BLOCK) {
    const rows = min(ROW_BLOCK, n - r)
    for (let i = 0; i < rows; i++) {
      store<f32>(bestScore + ((<usize>i) << 2), Infinity)
      store<u32>(outIdx + ((<usize>(r + i)) << 2), 0)
    }
    for (let c0 = 0; c0 < kpad; c0 += block) {
      const cEnd = min(kpad, c0 + block)
      for (let i = r; i < r + rows; i += 2) {
        const r0 = x + <usize>i * rowBytes
        // an odd last row is paired with itself; the duplicate result is dropped
        const r1 = i + 1 < n ? r0 + rowBytes : r0
        let bv0 = inf
        let bi0 = i32x4.splat(0)
        let bv1 = inf
        let bi1 = i32x4.splat(0)
        for (let c = c0; c < cEnd; c += 16) {
          let s00 = f32x4.splat(0)
          let s01 = f32x4.splat(0)
          let s02 = f32x4.splat(0)
          let s03 = f32x4.splat(0)
          let s10 = f32x4.splat(0)
          let s11 = f32x4.splat(0)
          let s12 = f32x4.splat(0)
          let s13 = f32x4.splat(0)
          let col = ct + ((<usize>c) << 2)
          for (let t = 0; t < len; t++) {
            const x0 = f32x4.splat(load<f32>(r0 + ((<usize>t) << 2)))
            const x1 = f32x4.splat(load<f32>(r1 + ((<usize>t) << 2)))
            const c0 = v128.load(col)
            const c1 = v128.load(col, 16)
            const c2 = v128.load(col, 32)
            const c3 = v128.load(col, 48)
            s00 = f32x4.add(s00, f32x4.mul(x0, c0))
            s01 = f32x4.add(s01, f32x4.mul(x0, c1))
            s02 = f32x4.add(s02, f32x4.mul(x0, c2))
            s03 = f32x4.add(s03, f32x4.mul(x0, c3))
            s10 = f32x4.add(s10, f32x4.mul(x1, c0))
            s11 = f32x4.add(s11, f32x4.mul(x1, c1))
            s12 = f32x4.add(s12, f32x4.mul(x1, c2))
            s13 = f32x4.add(s13, f32x4.mul(x1, c3))
            col += colBytes
          }
          const np = norms + ((<usize>c) << 2)
          const n0 = v128.load(np)
          const n1 = v128.load(np, 16)
          const n2 = v128.load(np, 32)
          const n3 = v128.load(np, 48)
          let idx = i32x4.add(i32x4.splat(c), i32x4(0, 1, 2, 3))
          let sc: v128
          let mk: v128
          sc = f32x4.sub(n0, f32x4.add(s00, s00))
          mk = f32x4.lt(sc, bv0)
          bv0 = v128.bitselect(sc, bv0, mk)
          bi0 = v128.bitselect(idx, bi0, mk)
          sc = f32x4.sub(n0, f32x4.add(s10, s10))
          mk = f32x4.lt(sc, bv1)
          bv1 = v128.bitselect(sc, bv1, mk)
          bi1 = v128.bitselect(idx, bi1, mk)
          idx = i32x4.add(idx, four)
          sc = f32x4.sub(n1, f32x4.add(s01, s01))
          mk = f32x4.lt(sc, bv0)
          bv0 = v128.bitselect(sc, bv0, mk)
          bi0 = v128.bitselect(idx, bi0, mk)
          sc = f32x4.sub(n1, f32x4.add(s11, s11))
          mk = f32x4.lt(sc, bv1)
          bv1 = v128.bitselect(sc, bv1, mk)
          bi1 = v128.bitselect(idx, bi1, mk)
          idx = i32x4.add(idx, four)
          sc = f32x4.sub(n2, f32x4.add(s02, s02))
          mk = f32x4.lt(sc, bv0)
          bv0 = v128.bitselect(sc, bv0, mk)
          bi0 = v128.bitselect(idx, bi0, mk)
          sc = f32x4.sub(n2, f32x4.add(s12, s12))
          mk = f32x4.lt(sc, bv1)
          bv1 = v128.bitselect(sc, bv1, mk)
          bi1 = v128.bitselect(idx, bi1, mk)
          idx = i32x4.add(idx, four)
          sc = f32x4.sub(n3, f32x4.add(s03, s03))
          mk = f32x4.lt(sc, bv0)
          bv0 = v128.bitselect(sc, bv0, mk)
          bi0 = v128.bitselect(idx, bi0, mk)
          sc = f32x4.sub(n3, f32x4.add(s13, s13))
          mk = f32x4.lt(sc, bv1)
          bv1 = v128.bitselect(sc, bv1, mk)
          bi1 = v128.bitselect(idx, bi1, mk)
        }
        settle(bv0, bi0, i, outIdx)
        if (i + 1 < n) settle(bv1, bi1, i + 1, outIdx)
      }
    }
  }
}

/**
 * PQ encoding (js.ts pqEncode): for each subspace j (dims starts[j]…starts[j+1]), the nearest
 * transposed codebook entry of each row's slice, as one byte at out[i·m + j]. Codebook j is at
 * float offset kpad·starts[j] of `cbt`, its norms at norms + j·kpad floats. `idx`: n u32 scratch.
 */
export function pqEncode(
  x: usize,
  n: i32,
  dim: i32,
  m: i32,
  starts: usize,
  cbt: usize,
  norms: usize,
  kpad: i32,
  out: usize,
  idx: usize,
): void {
  for (let j = 0; j < m; j++) {
    const s = load<u32>(starts + ((<usize>j) << 2))
    const len = <i32>(load<u32>(starts + ((<usize>(j + 1)) << 2)) - s)
    nearest(x + ((<usize>s) << 2), n, dim, len, cbt + ((<usize>kpad * <usize>s) << 2), norms + ((<usize>j * <usize>kpad) << 2), kpad, idx)
    for (let i = 0; i < n; i++) store<u8>(out + <usize>i * <usize>m + <usize>j, <u8>load<u32>(idx + ((<usize>i) << 2)))
  }
}

// ---------------------------------------------------------------------------------------------
// ADC (js.ts adcTable / pqScan).

/**
 * Lookup table, out[j·kpad + c]: kind 0 Σ_t (q_t − cb_t)², kind 1 −Σ_t q_t·cb_t, summed in
 * order t over subspace j's dims; lanes run across 16 codes. Codebooks transposed as in pqEncode.
 */
export function adcTable(kind: i32, q: usize, m: i32, starts: usize, cbt: usize, kpad: i32, out: usize): void {
  const colBytes = (<usize>kpad) << 2
  for (let j = 0; j < m; j++) {
    const s = load<u32>(starts + ((<usize>j) << 2))
    const len = <i32>(load<u32>(starts + ((<usize>(j + 1)) << 2)) - s)
    const book = cbt + ((<usize>kpad * <usize>s) << 2)
    for (let c = 0; c < kpad; c += 16) {
      let a0 = f32x4.splat(0)
      let a1 = f32x4.splat(0)
      let a2 = f32x4.splat(0)
      let a3 = f32x4.splat(0)
      let col = book + ((<usize>c) << 2)
      for (let t = 0; t < len; t++) {
        const qv = f32x4.splat(load<f32>(q + ((<usize>s + <usize>t) << 2)))
        if (kind === 0) {
          const d0 = f32x4.sub(qv, v128.load(col))
          const d1 = f32x4.sub(qv, v128.load(col, 16))
          const d2 = f32x4.sub(qv, v128.load(col, 32))
          const d3 = f32x4.sub(qv, v128.load(col, 48))
          a0 = f32x4.add(a0, f32x4.mul(d0, d0))
          a1 = f32x4.add(a1, f32x4.mul(d1, d1))
          a2 = f32x4.add(a2, f32x4.mul(d2, d2))
          a3 = f32x4.add(a3, f32x4.mul(d3, d3))
        } else {
          a0 = f32x4.sub(a0, f32x4.mul(qv, v128.load(col)))
          a1 = f32x4.sub(a1, f32x4.mul(qv, v128.load(col, 16)))
          a2 = f32x4.sub(a2, f32x4.mul(qv, v128.load(col, 32)))
          a3 = f32x4.sub(a3, f32x4.mul(qv, v128.load(col, 48)))
        }
        col += colBytes
      }
      const o = out + ((<usize>j * <usize>kpad + <usize>c) << 2)
      v128.store(o, a0)
      v128.store(o, a1, 16)
      v128.store(o, a2, 32)
      v128.store(o, a3, 48)
    }
  }
}

/**
 * out[i] = bias + Σ_j table[j·kpad + codes[i·m + j]], summed in order j. Four entries at a time
 * (independent dependency chains), codes read four bytes per load; the table lookups are
 * scalar (wasm has no gather).
 */
export function pqScan(table: usize, kpad: i32, codes: usize, count: i32, m: i32, bias: f32, out: usize): void {
  const stride = (<usize>kpad) << 2
  const m4 = m & ~3
  let i = 0
  for (; i + 4 <= count; i += 4) {
    const c0 = codes + <usize>i * <usize>m
    const c1 = c0 + <usize>m
    const c2 = c1 + <usize>m
    const c3 = c2 + <usize>m
    let s0 = bias
    let s1 = bias
    let s2 = bias
    let s3 = bias
    let row = table
    let j = 0
    for (; j < m4; j += 4) {
      const w0 = load<u32>(c0 + j)
      const w1 = load<u32>(c1 + j)
      const w2 = load<u32>(c2 + j)
      const w3 = load<u32>(c3 + j)
      s0 += load<f32>(row + ((w0 & 255) << 2))
      s1 += load<f32>(row + ((w1 & 255) << 2))
      s2 += load<f32>(row + ((w2 & 255) << 2))
      s3 += load<f32>(row + ((w3 & 255) << 2))
      row += stride
      s0 += load<f32>(row + ((w0 >> 6) & 1020))
      s1 += load<f32>(row + ((w1 >> 6) & 1020))
      s2 += load<f32>(row + ((w2 >> 6) & 1020))
      s3 += load<f32>(row + ((w3 >> 6) & 1020))
      row += stride
      s0 += load<f32>(row + ((w0 >> 14) & 1020))
      s1 += load<f32>(row + ((w1 >> 14) & 1020))
      s2 += load<f32>(row + ((w2 >> 14) & 1020))
      s3 += load<f32>(row + ((w3 >> 14) & 1020))
      row += stride
      s0 += load<f32>(row + ((w0 >> 22) & 1020))
      s1 += load<f32>(row + ((w1 >> 22) & 1020))
      s2 += load<f32>(row + ((w2 >> 22) & 1020))
      s3 += load<f32>(row + ((w3 >> 22) & 1020))
      row += stride
    }
    for (; j < m; j++) {
      s0 += load<f32>(row + ((<usize>load<u8>(c0 + j)) << 2))
      s1 += load<f32>(row + ((<usize>load<u8>(c1 + j)) << 2))
      s2 += load<f32>(row + ((<usize>load<u8>(c2 + j)) << 2))
      s3 += load<f32>(row + ((<usize>load<u8>(c3 + j)) << 2))
      row += stride
    }
    const o = out + ((<usize>i) << 2)
    store<f32>(o, s0)
    store<f32>(o, s1, 4)
    store<f32>(o, s2, 8)
    store<f32>(o, s3, 12)
  }
  for (; i < count; i++) {
    const c = codes + <usize>i * <usize>m
    let s = bias
    let row = table
    for (let j = 0; j < m; j++) {
      s += load<f32>(row + ((<usize>load<u8>(c + j)) << 2))
      row += stride
    }
    store<f32>(out + ((<usize>i) << 2), s)
  }
}
