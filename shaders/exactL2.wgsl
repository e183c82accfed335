// Exact distances: out[q * n + v] = ‖queries[q] − vectors[v]‖² (squared L2), or ⟨queries[q],
// vectors[v]⟩ when params.ip is 1 (inner product: dot and cosine ranking, flat search).
//
// Buffers (row-major float32, as decoded from the file's vector pages):
//   queries  f32[q × dim]      vectors  f32[n × dim]      out  f32[q × n] (query-major)
// A workgroup of 256 invocations handles ROWS = 8 vectors; the LANES = 32 invocations of a
// vector read it at consecutive addresses (coalesced) and add their partial sums in workgroup
// memory. One invocation per output vector in grid terms: the host dispatches n × LANES.

struct Params {
  n: u32,
  q: u32,
  dim: u32,
  perGridRow: u32, // invocations per grid row: x extent × WORKGROUP
  ip: u32,
}

const WORKGROUP: u32 = 256u;
// tunable (pipeline constant, GpuContext.tunables): invocations sharing a vector, a power of two
// dividing WORKGROUP; the host dispatches n × LANES invocations
override LANES: u32 = 32u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<f32>;
@group(0) @binding(2) var<storage, read> vectors: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) li: u32) {
  let lane = li % LANES;
  let v = (gid.y * params.perGridRow + gid.x) / LANES;
  let live = v < params.n;
  let vb = v * params.dim;
  for (var qi = 0u; qi < params.q; qi++) {
    let qb = qi * params.dim;
    var s = 0.0;
    if (live) {
      if (params.ip == 1u) {
        for (var j = lane; j < params.dim; j += LANES) {
          s += vectors[vb + j] * queries[qb + j];
        }
      } else {
        for (var j = lane; j < params.dim; j += LANES) {
          let d = vectors[vb + j] - queries[qb + j];
          s += d * d;
        }
      }
    }
    partial[li] = s;
    workgroupBarrier();
    for (var stride = LANES / 2u; stride > 0u; stride = stride / 2u) {
      if (lane < stride) {
        partial[li] = partial[li] + partial[li + stride];
      }
      workgroupBarrier();
    }
    if (lane == 0u && live) {
      out[qi * params.n + v] = partial[li];
    }
    workgroupBarrier();
  }
}
