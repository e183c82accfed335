// Exact distances of (query, vector) pairs — the refine stage, where each query ranks its own
// few candidates: pair p = (pairs[2p], pairs[2p + 1]) = (query, vector) gives
//   params.ip 0: out[2p] = ‖queries[q] − vectors[v]‖² (squared L2)
//   params.ip 1: out[2p] = ⟨queries[q], vectors[v]⟩ and out[2p + 1] = ‖vectors[v]‖² (dot; cosine
//                divides by the norm on the host, metric.ts fromKernel)
//
// Buffers (row-major float32 read as vec4s, dim4 = ⌈dim / 4⌉, rows zero-padded as exactL2.wgsl's):
//   queries  vec4<f32>[q × dim4]   vectors  vec4<f32>[n × dim4]   pairs  u32[2 × pairs]   out  f32[2 × pairs]
// REFINE_LANES invocations share a pair and read its two rows as consecutive 16-byte loads
// (coalesced); their partial sums meet in workgroup memory. The host dispatches
// ⌈pairs · REFINE_LANES / WORKGROUP⌉
// workgroups (exact.ts GpuExact.pairs).

struct Params {
  pairs: u32,
  dim4: u32,
  groupsPerRow: u32, // workgroups per grid row (x extent)
  ip: u32,
}

const WORKGROUP: u32 = 256u;
// tunable (pipeline constant, GpuContext.tunables): invocations sharing a pair, a power of two
// dividing WORKGROUP — tuned apart from exactL2's LANES (an H200 at size: 32 here, 8 there)
override REFINE_LANES: u32 = 8u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> vectors: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read> pairs: array<u32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<vec2<f32>, WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let g = wid.y * params.groupsPerRow + wid.x;
  let lane = li % REFINE_LANES;
  let p = g * (WORKGROUP / REFINE_LANES) + li / REFINE_LANES;
  let live = p < params.pairs;
  var s = vec2<f32>(0.0, 0.0);
  if (live) {
    let qb = pairs[2u * p] * params.dim4;
    let vb = pairs[2u * p + 1u] * params.dim4;
    for (var j = lane; j < params.dim4; j += REFINE_LANES) {
      let x = vectors[vb + j];
      let y = queries[qb + j];
      if (params.ip == 1u) {
        s += vec2<f32>(dot(x, y), dot(x, x));
      } else {
        let d = x - y;
        s.x += dot(d, d);
      }
    }
  }
  partial[li] = s;
  workgroupBarrier();
  // the pair's first lane adds up its REFINE_LANES partial sums
  if (live && lane == 0u) {
    var sum = vec2<f32>(0.0, 0.0);
    for (var l = 0u; l < REFINE_LANES; l++) {
      sum += partial[li + l];
    }
    out[2u * p] = sum.x;
    out[2u * p + 1u] = sum.y;
  }
}
