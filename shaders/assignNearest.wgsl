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
// One invocation per (batch, row); the invocations of a workgroup read the same centroid value
// at the same time (one broadcast load), each its own row.

struct Params {
  n: u32,
  k: u32,
  dim: u32,
  batches: u32,
  perGridRow: u32, // invocations per grid row: x extent × WORKGROUP
}

const WORKGROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> centroids: array<f32>;
@group(0) @binding(3) var<storage, read> norms: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * params.perGridRow + gid.x;
  if (i >= params.n * params.batches) {
    return;
  }
  let b = i / params.n;
  let xb = i * params.dim;
  let cb = b * params.k * params.dim;
  var best = 0u;
  var bestScore = 0.0;
  for (var c = 0u; c < params.k; c++) {
    let co = cb + c * params.dim;
    var s = 0.0;
    for (var j = 0u; j < params.dim; j++) {
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
