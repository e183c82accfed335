// IVF-PQ encoding: the code of each row's residual r = x − centroid[assign[row]] in every
// subspace — the codebook entry with the least ‖e‖² − 2⟨r, e⟩ (compute/js.ts pqEncode's
// scoring), ties to the lower entry. Runs after assignNearest.wgsl wrote `assign`.
//
// Buffers:
//   x         f32[n × dim]
//   assign    u32[n]
//   centroids f32[nlist × dim]
//   codebooks f32[ksub × dim]: subspace j's ksub entries contiguous from ksub·starts[j], each len_j floats (index/pq.ts)
//   norms     f32[m × ksub]: ‖entry‖²
//   starts    u32[m + 1]
//   out       u32[n × m]: one code per u32 (the host packs them to bytes)
// One invocation per (subspace, row), subspace-major: the invocations of a workgroup share the
// subspace, so they read the same codebook value at the same time (one broadcast load), each its
// own row's few residual values (cached after the first entry).

struct Params {
  n: u32,
  m: u32,
  ksub: u32,
  dim: u32,
  perGridRow: u32,
}

const WORKGROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> assign: array<u32>;
@group(0) @binding(3) var<storage, read> centroids: array<f32>;
@group(0) @binding(4) var<storage, read> codebooks: array<f32>;
@group(0) @binding(5) var<storage, read> norms: array<f32>;
@group(0) @binding(6) var<storage, read> starts: array<u32>;
@group(0) @binding(7) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * params.perGridRow + gid.x;
  if (i >= params.n * params.m) {
    return;
  }
  let row = i % params.n;
  let j = i / params.n;
  let s = starts[j];
  let len = starts[j + 1u] - s;
  let xb = row * params.dim + s;
  let cb = assign[row] * params.dim + s;
  var best = 0u;
  var bestScore = 0.0;
  for (var e = 0u; e < params.ksub; e++) {
    let eb = params.ksub * s + e * len;
    var dotv = 0.0;
    for (var t = 0u; t < len; t++) {
      dotv += (x[xb + t] - centroids[cb + t]) * codebooks[eb + t];
    }
    let d = norms[j * params.ksub + e] - 2.0 * dotv;
    if (e == 0u || d < bestScore) {
      bestScore = d;
      best = e;
    }
  }
  out[row * params.m + j] = best;
}
