// WebAssembly SIMD kernels (AssemblyScript). Built by scripts/build-wasm.mjs; never edit the .wasm.
//
// Every pointer is a byte offset into this module's memory, laid out by the caller
// (src/compute/wasm.ts), 16-byte aligned. Each kernel computes exactly what its reference in
// src/compute/js.ts computes, bit for bit: float32 arithmetic in the same order (centroidBounds
// and boundedNearest are steps of assignNearest: their winners, not their bounds, are the
// reference's). SIMD lanes run
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

// ---------------------------------------------------------------------------------------------
// Nearest centroid with a bound (wasm.ts assignNearest, many centroids of many dimensions): the
// winner `nearest` picks, bit for bit, from far fewer products. The caller projects rows and
// centroids on T orthonormal directions (the centroids' principal ones) and gives the norm of what
// each projection leaves out, so that ‖x − c‖² ≥ ‖Px − Pc‖² + (‖x⊥‖ − ‖c⊥‖)². `centroidBounds`
// scores the T-d projections against every centroid (as `nearest` does, T values instead of dim);
// `boundedNearest` then scores exactly, as `nearest` does (‖c‖² − 2·(x·c), the dot summed in
// order), only the centroids whose bound is within the best exact distance found so far plus a
// margin for rounding. The winner's bound never exceeds that, so it is always scored.

/** Four bounds: pn + (pnorm − 2·s) + (rv − cr)² (see centroidBounds). */
function bound4(pnorm: v128, s: v128, pn: v128, rv: v128, cr: v128): v128 {
  const d = f32x4.sub(rv, cr)
  return f32x4.add(f32x4.add(pn, f32x4.sub(pnorm, f32x4.add(s, s))), f32x4.mul(d, d))
}

/** The centroid index of the least of four lane minima (v, i). */
function leastLane(v: v128, i: v128): i32 {
  let best = i32x4.extract_lane(i, 0)
  let bv = f32x4.extract_lane(v, 0)
  if (f32x4.extract_lane(v, 1) < bv) {
    bv = f32x4.extract_lane(v, 1)
    best = i32x4.extract_lane(i, 1)
  }
  if (f32x4.extract_lane(v, 2) < bv) {
    bv = f32x4.extract_lane(v, 2)
    best = i32x4.extract_lane(i, 2)
  }
  if (f32x4.extract_lane(v, 3) < bv) best = i32x4.extract_lane(i, 3)
  return best
}

/**
 * Bounds on ‖x − c‖² for n rows against kpad centroids: out[i·kpad + c] = xpn_i + ‖Pc‖² −
 * 2·(xp_i · pc) + (xr_i − cr_c)², from each row's T projected values (xp, row-major), ‖Px‖² (xpn)
 * and ‖x⊥‖ (xr), and the transposed projected centroids `pt` (T × kpad), their ‖Pc‖² (pnorm,
 * padding +∞) and ‖c⊥‖ (cr). first[i]: a centroid of row i's least bound. The products are
 * `nearest`'s register block (2 rows × 16 centroids, eight accumulators), written out again: a
 * function returns one value, and the accumulators passed through memory would leave registers.
 */
export function centroidBounds(
  xp: usize,
  n: i32,
  t: i32,
  pt: usize,
  pnorm: usize,
  kpad: i32,
  xpn: usize,
  xr: usize,
  cr: usize,
  out: usize,
  first: usize,
): void {
  const rowBytes = (<usize>t) << 2
  const colBytes = (<usize>kpad) << 2
  const four = i32x4.splat(4)
  for (let i = 0; i < n; i += 2) {
    const i1 = i + 1 < n ? i + 1 : i
    const r0 = xp + <usize>i * rowBytes
    const r1 = xp + <usize>i1 * rowBytes
    const o0 = out + <usize>i * colBytes
    const o1 = out + <usize>i1 * colBytes
    const pn0 = f32x4.splat(load<f32>(xpn + ((<usize>i) << 2)))
    const pn1 = f32x4.splat(load<f32>(xpn + ((<usize>i1) << 2)))
    const rv0 = f32x4.splat(load<f32>(xr + ((<usize>i) << 2)))
    const rv1 = f32x4.splat(load<f32>(xr + ((<usize>i1) << 2)))
    let m0 = f32x4.splat(Infinity)
    let m1 = f32x4.splat(Infinity)
    let a0 = i32x4.splat(0)
    let a1 = i32x4.splat(0)
    for (let c = 0; c < kpad; c += 16) {
      let s00 = f32x4.splat(0)
      let s01 = f32x4.splat(0)
      let s02 = f32x4.splat(0)
      let s03 = f32x4.splat(0)
      let s10 = f32x4.splat(0)
      let s11 = f32x4.splat(0)
      let s12 = f32x4.splat(0)
      let s13 = f32x4.splat(0)
      let col = pt + ((<usize>c) << 2)
      for (let d = 0; d < t; d++) {
        const x0 = f32x4.splat(load<f32>(r0 + ((<usize>d) << 2)))
        const x1 = f32x4.splat(load<f32>(r1 + ((<usize>d) << 2)))
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
      const at = (<usize>c) << 2
      let idx = i32x4.add(i32x4.splat(c), i32x4(0, 1, 2, 3))
      for (let j = 0; j < 4; j++) {
        const o = at + ((<usize>j) << 4)
        const np = v128.load(pnorm + o)
        const cv = v128.load(cr + o)
        const b0 = bound4(np, j === 0 ? s00 : j === 1 ? s01 : j === 2 ? s02 : s03, pn0, rv0, cv)
        const b1 = bound4(np, j === 0 ? s10 : j === 1 ? s11 : j === 2 ? s12 : s13, pn1, rv1, cv)
        v128.store(o1 + o, b1)
        v128.store(o0 + o, b0)
        const k0 = f32x4.lt(b0, m0)
        m0 = v128.bitselect(b0, m0, k0)
        a0 = v128.bitselect(idx, a0, k0)
        const k1 = f32x4.lt(b1, m1)
        m1 = v128.bitselect(b1, m1, k1)
        a1 = v128.bitselect(idx, a1, k1)
        idx = i32x4.add(idx, four)
      }
    }
    store<i32>(first + ((<usize>i1) << 2), leastLane(m1, a1))
    store<i32>(first + ((<usize>i) << 2), leastLane(m0, a0))
  }
}

/** `nearest`'s score of row `row` (len values) against centroid `c` (row-major, len values). */
function exactScore(row: usize, c: usize, norm: f32, len: i32): f32 {
  let s: f32 = 0
  for (let t = 0; t < len; t++) s += load<f32>(row + ((<usize>t) << 2)) * load<f32>(c + ((<usize>t) << 2))
  return norm - (s + s)
}

/** Four centroids' exact scores (exactScore each, summed side by side), to fourScores. */
const fourScores = memory.data(16, 16)
function exactScores4(row: usize, c0: usize, c1: usize, c2: usize, c3: usize, len: i32): void {
  let s0: f32 = 0
  let s1: f32 = 0
  let s2: f32 = 0
  let s3: f32 = 0
  for (let t = 0; t < len; t++) {
    const o = (<usize>t) << 2
    const x = load<f32>(row + o)
    s0 += x * load<f32>(c0 + o)
    s1 += x * load<f32>(c1 + o)
    s2 += x * load<f32>(c2 + o)
    s3 += x * load<f32>(c3 + o)
  }
  store<f32>(fourScores, s0 + s0)
  store<f32>(fourScores, s1 + s1, 4)
  store<f32>(fourScores, s2 + s2, 8)
  store<f32>(fourScores, s3 + s3, 12)
}

/** boundedNearest's running winner (score, centroid) and cut, shared with scoreListed. */
let found_best: f32 = 0
let found_bestI: i32 = 0
let found_thr: f32 = 0

/**
 * Scores exactly, four at a time, the listed centroids whose bound is in (lo, hi] and within the
 * running cut, updating the running winner (least score, then lower centroid) and cut. Returns
 * how many it scored.
 */
function scoreListed(
  row: usize,
  c: usize,
  norms: usize,
  rowBytes: usize,
  b: usize,
  list: usize,
  found: i32,
  dim: i32,
  norm2: f32,
  slack: f32,
  lo: f32,
  hi: f32,
): f64 {
  let scored: f64 = 0
  let next = 0
  while (next < found) {
    let got = 0
    let e0 = 0
    let e1 = 0
    let e2 = 0
    let e3 = 0
    while (next < found && got < 4) {
      const e = load<i32>(list + ((<usize>next) << 2))
      next++
      const v = load<f32>(b + ((<usize>e) << 2))
      if (v <= lo || v > hi || v > found_thr) continue
      if (got === 0) e0 = e
      else if (got === 1) e1 = e
      else if (got === 2) e2 = e
      else e3 = e
      got++
    }
    if (got === 0) break
    if (got < 2) e1 = e0
    if (got < 3) e2 = e0
    if (got < 4) e3 = e0
    exactScores4(row, c + <usize>e0 * rowBytes, c + <usize>e1 * rowBytes, c + <usize>e2 * rowBytes, c + <usize>e3 * rowBytes, dim)
    scored += got
    for (let g = 0; g < got; g++) {
      const e = g === 0 ? e0 : g === 1 ? e1 : g === 2 ? e2 : e3
      const s = load<f32>(norms + ((<usize>e) << 2)) - load<f32>(fourScores + ((<usize>g) << 2))
      if (s < found_best || (s === found_best && e < found_bestI)) {
        found_best = s
        found_bestI = e
        found_thr = norm2 + s + slack
      }
    }
  }
  return scored
}

/**
 * For n rows (x, dim values each) the nearest of k centroids (c, row-major; norms ‖c‖²), given
 * their bounds and least-bound centroids from centroidBounds (`bounds`, rows of kpad; `firsts`)
 * and each row's ‖x‖² (xn). The centroid of the least bound is scored first; then every centroid
 * whose bound is at most ‖x‖² + best + margin·(‖x‖² + cmax), four at a time, the best so far
 * tightening the cut. `list`: kpad u32 of scratch. Indices to outIdx; returns how many centroids
 * were scored exactly.
 */
export function boundedNearest(
  x: usize,
  n: i32,
  dim: i32,
  c: usize,
  norms: usize,
  k: i32,
  kpad: i32,
  bounds: usize,
  firsts: usize,
  xn: usize,
  margin: f32,
  cmax: f32,
  list: usize,
  outIdx: usize,
): f64 {
  const rowBytes = (<usize>dim) << 2
  let scored: f64 = 0
  for (let i = 0; i < n; i++) {
    const row = x + <usize>i * rowBytes
    const b = bounds + <usize>i * ((<usize>kpad) << 2)
    const at = (<usize>i) << 2
    let first = load<i32>(firsts + at)
    if (first >= k) first = 0
    const firstV = load<f32>(b + ((<usize>first) << 2))
    const norm2 = load<f32>(xn + at)
    const slack = margin * (norm2 + cmax)
    const best = exactScore(row, c + <usize>first * rowBytes, load<f32>(norms + ((<usize>first) << 2)), dim)
    let bestI = first
    const thr = norm2 + best + slack
    scored += 1
    // the centroids within the cut, ascending
    let found = 0
    const cut = f32x4.splat(thr)
    for (let q = 0; q < k; q += 4) {
      const p = b + ((<usize>q) << 2)
      if (!v128.any_true(f32x4.le(v128.load(p), cut))) continue
      const end = min(k, q + 4)
      for (let e = q; e < end; e++)
        if (e !== first && load<f32>(b + ((<usize>e) << 2)) <= thr) {
          store<u32>(list + ((<usize>found) << 2), e)
          found++
        }
    }
    // scored four at a time, the tightening cut dropping those it no longer admits: first those
    // of the least quarter of bounds (likely to hold the winner: the cut tightens early), then the rest
    found_best = best
    found_bestI = bestI
    found_thr = thr
    const mid = firstV + 0.25 * (thr - firstV)
    scored += scoreListed(row, c, norms, rowBytes, b, list, found, dim, norm2, slack, -Infinity, mid)
    scored += scoreListed(row, c, norms, rowBytes, b, list, found, dim, norm2, slack, mid, Infinity)
    bestI = found_bestI
    store<u32>(outIdx + at, bestI)
  }
  return scored
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
