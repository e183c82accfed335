// Exact squared L2 distances: out[q * n + v] = ‖queries[q] − vectors[v]‖².
//
// Buffers (row-major float32, as decoded from the file's vector pages):
//   queries  f32[q × dim]      vectors  f32[n × dim]      out  f32[q × n] (query-major)
// One invocation per vector, looping over dims and then queries (the vector stays in cache).
// A cooperative version (lanes sharing a vector, reduced in workgroup memory) aborted Dawn on
// SwiftShader, so this first version keeps to plain loops. Dispatch is folded into (x, y).

struct Params {
  n: u32,
  q: u32,
  dim: u32,
  perGridRow: u32, // invocations per grid row: x extent × WORKGROUP
}

const WORKGROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<f32>;
@group(0) @binding(2) var<storage, read> vectors: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let v = gid.y * params.perGridRow + gid.x;
  if (v >= params.n) {
    return;
  }
  let vb = v * params.dim;
  for (var qi = 0u; qi < params.q; qi++) {
    let qb = qi * params.dim;
    var s = 0.0;
    for (var j = 0u; j < params.dim; j++) {
      let d = vectors[vb + j] - queries[qb + j];
      s += d * d;
    }
    out[qi * params.n + v] = s;
  }
}
