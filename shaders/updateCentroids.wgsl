// The k-means update: each centroid becomes the mean of its rows, summed in row order, for
// `batches` problems at once (assignNearest.wgsl's layout). The host groups row indices by
// centroid (a counting sort of the assignment) so no float atomics are needed.
//
// Buffers:
//   x         f32[batches × n × dim]
//   order     u32[batches × n]: batch b's rows grouped by centroid, ascending within a centroid
//   starts    u32[batches × (k + 1)]: centroid c of batch b owns order[b·n + starts[c] …< b·n + starts[c + 1]]
//   centroids f32[batches × k × dim]: updated in place; a centroid without rows keeps its value
// One invocation per (batch, centroid, dimension).

struct Params {
  n: u32,
  k: u32,
  dim: u32,
  batches: u32,
  perGridRow: u32,
}

const WORKGROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> order: array<u32>;
@group(0) @binding(3) var<storage, read> starts: array<u32>;
@group(0) @binding(4) var<storage, read_write> centroids: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * params.perGridRow + gid.x;
  if (i >= params.batches * params.k * params.dim) {
    return;
  }
  let j = i % params.dim;
  let c = (i / params.dim) % params.k;
  let b = i / (params.dim * params.k);
  let sb = b * (params.k + 1u);
  let first = starts[sb + c];
  let last = starts[sb + c + 1u];
  if (last == first) {
    return;
  }
  var s = 0.0;
  for (var r = first; r < last; r++) {
    let row = order[b * params.n + r];
    s += x[(b * params.n + row) * params.dim + j];
  }
  centroids[i] = s / f32(last - first);
}
