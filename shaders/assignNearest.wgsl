// Nearest centroid of every row, for `batches` independent problems at once — one for a coarse
// k-means or IVF assignment, one per subspace when training PQ codebooks. Each row scores
// ‖c‖² − 2⟨x, c⟩ against the k centroids of its batch (as compute/js.ts assignNearest does),
// ties to the lower centroid.
//
// Buffers:
//   x         f32[batches × n × dim]  (a batch's rows, row-major; shorter subspaces zero-padded)
//   centroids f32[batches × k × dim]
//   norms     f32[batches × k]        ‖centroid‖²
//   out       u32[batches × n]
// Two entry points (build.ts recordAssign picks by dim):
// `tiled`, a matrix product in tiles: a workgroup takes ROWS rows of one batch and walks its centroids
// COLS at a time; rows and centroids go through workgroup memory DEPTH dimensions at a time
// (each value loaded from storage once per tile, not once per pair), and each invocation keeps a
// 4 × 4 block of dot products in registers — rows ty + 16i, centroids tx + 16j, so reads of
// workgroup memory are broadcasts or consecutive. Every dot product still sums its dimensions
// in order, as the CPU does. The 16 invocations that saw a row's centroids then agree on its
// nearest (least score, then lower centroid). The host dispatches batches × ⌈n / ROWS⌉ workgroups.
// `narrow`, for a few dimensions (PQ subspaces): one invocation per (batch, row) reading every
// centroid of its batch (the workgroup's invocations read the same value at once) — as fast on a
// GPU there, and far cheaper where workgroup barriers are costly (SwiftShader). n × batches
// invocations.

struct Params {
  n: u32,
  k: u32,
  dim: u32,
  batches: u32,
  groupsPerRow: u32, // workgroups per grid row (x extent)
  tilesPerBatch: u32, // tiled: ⌈n / ROWS⌉
}

const WORKGROUP: u32 = 256u;
const ROWS: u32 = 64u;
const COLS: u32 = 64u;
const DEPTH: u32 = 8u;
const MAX_F32: f32 = 0x1.fffffep+127f;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> centroids: array<f32>;
@group(0) @binding(3) var<storage, read> norms: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<u32>;

var<workgroup> xs: array<f32, 512>; // DEPTH × ROWS, dimension-major
var<workgroup> cs: array<f32, 512>; // DEPTH × COLS
var<workgroup> bestScores: array<f32, 1024>; // ROWS × 16
var<workgroup> bestIndices: array<u32, 1024>;

@compute @workgroup_size(WORKGROUP)
fn narrow(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let i = (wid.y * params.groupsPerRow + wid.x) * WORKGROUP + li;
  if (i >= params.n * params.batches) {
    return;
  }
  let dim = params.dim;
  let xb = i * dim;
  let b = i / params.n;
  var best = 0u;
  var bestScore = 0.0;
  for (var c = 0u; c < params.k; c++) {
    let co = (b * params.k + c) * dim;
    var s = 0.0;
    for (var j = 0u; j < dim; j++) {
      s += x[xb + j] * centroids[co + j];
    }
    let d = norms[b * params.k + c] - 2.0 * s;
    if (c == 0u || d < bestScore) {
      bestScore = d;
      best = c;
    }
  }
  out[i] = best;
}

@compute @workgroup_size(WORKGROUP)
fn tiled(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = wid.y * params.groupsPerRow + wid.x;
  let b = g / params.tilesPerBatch;
  if (b >= params.batches) {
    return;
  }
  let n = params.n;
  let k = params.k;
  let dim = params.dim;
  let rowBase = (g % params.tilesPerBatch) * ROWS;
  let xb = b * n;
  let cb = b * k;
  let tx = li % 16u;
  let ty = li / 16u;

  var best: array<f32, 4>;
  var bestAt: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    best[i] = MAX_F32;
    bestAt[i] = 0u;
  }
  for (var c0 = 0u; c0 < k; c0 += COLS) {
    // acc[i][j]: row ty + 16i, centroid c0 + tx + 16j (set to zero explicitly: a declaration
    // inside a loop was not re-zeroed per iteration on SwiftShader)
    var acc = array<vec4<f32>, 4>(vec4<f32>(), vec4<f32>(), vec4<f32>(), vec4<f32>());
    for (var d0 = 0u; d0 < dim; d0 += DEPTH) {
      // each invocation loads two values of each tile (rows / centroids past the end, and
      // dimensions past dim, as zeros)
      for (var h = 0u; h < 2u; h++) {
        let e = li + h * WORKGROUP;
        let r = e / DEPTH;
        let d = d0 + e % DEPTH;
        var xv = 0.0;
        if (rowBase + r < n && d < dim) {
          xv = x[(xb + rowBase + r) * dim + d];
        }
        xs[(e % DEPTH) * ROWS + r] = xv;
        var cv = 0.0;
        if (c0 + r < k && d < dim) {
          cv = centroids[(cb + c0 + r) * dim + d];
        }
        cs[(e % DEPTH) * COLS + r] = cv;
      }
      workgroupBarrier();
      for (var t = 0u; t < DEPTH; t++) {
        let cv = vec4<f32>(cs[t * COLS + tx], cs[t * COLS + tx + 16u], cs[t * COLS + tx + 32u], cs[t * COLS + tx + 48u]);
        for (var i = 0u; i < 4u; i++) {
          acc[i] += xs[t * ROWS + ty + 16u * i] * cv;
        }
      }
      workgroupBarrier();
    }
    for (var j = 0u; j < 4u; j++) {
      let c = c0 + tx + 16u * j;
      if (c < k) {
        for (var i = 0u; i < 4u; i++) {
          let score = norms[cb + c] - 2.0 * acc[i][j];
          if (score < best[i]) {
            best[i] = score;
            bestAt[i] = c;
          }
        }
      }
    }
  }
  // the 16 invocations of each row (tx = 0…15) agree: least score, then lower centroid
  for (var i = 0u; i < 4u; i++) {
    bestScores[(ty + 16u * i) * 16u + tx] = best[i];
    bestIndices[(ty + 16u * i) * 16u + tx] = bestAt[i];
  }
  workgroupBarrier();
  if (li < ROWS && rowBase + li < n) {
    var s = bestScores[li * 16u];
    var at = bestIndices[li * 16u];
    for (var t = 1u; t < 16u; t++) {
      let v = bestScores[li * 16u + t];
      let c = bestIndices[li * 16u + t];
      if (v < s || (v == s && c < at)) {
        s = v;
        at = c;
      }
    }
    out[xb + rowBase + li] = at;
  }
}
