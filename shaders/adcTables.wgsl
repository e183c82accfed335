// ADC lookup tables: one per (query, list) pair for l2 — the residual r = q − centroid[list]
// against every codebook entry — or one per query for ip:
//   out[t·m·ksub + j·ksub + c] = Σ_{d in subspace j} (r_d − cb[j][c][d])²   (l2)
//                              = −Σ_{d in subspace j} q_d · cb[j][c][d]     (ip)
// Same operation order as compute/js.ts adcTable (residual rounded to f32 first, then one
// in-order sum), so tables match the CPU's up to the GPU's fused multiply-adds.
//
// Buffers:
//   queries   f32[nq × dim]
//   centroids f32[nlist × dim]
//   codebooks f32[ksub × dim]: subspace j's ksub entries contiguous from ksub·starts[j], each len_j floats (index/pq.ts)
//   starts    u32[m + 1]: subspace j covers dims [starts[j], starts[j + 1])
//   tables    u32[ntables × 2]: (query, list) of table t; list unused for ip
//   out       f32[ntables × m × ksub]
// One invocation per output value.

struct Params {
  ntables: u32,
  m: u32,
  ksub: u32,
  dim: u32,
  ip: u32, // 1: inner-product tables
  perGridRow: u32, // invocations per grid row: x extent × WORKGROUP
}

const WORKGROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<f32>;
@group(0) @binding(2) var<storage, read> centroids: array<f32>;
@group(0) @binding(3) var<storage, read> codebooks: array<f32>;
@group(0) @binding(4) var<storage, read> starts: array<u32>;
@group(0) @binding(5) var<storage, read> tables: array<u32>;
@group(0) @binding(6) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * params.perGridRow + gid.x;
  let per = params.m * params.ksub;
  if (i >= params.ntables * per) {
    return;
  }
  let t = i / per;
  let j = (i % per) / params.ksub;
  let c = i % params.ksub;
  let s = starts[j];
  let len = starts[j + 1u] - s;
  let qb = tables[2u * t] * params.dim + s;
  let cb = params.ksub * s + c * len;
  var d = 0.0;
  if (params.ip == 1u) {
    for (var k = 0u; k < len; k++) {
      d -= queries[qb + k] * codebooks[cb + k];
    }
  } else {
    let lb = tables[2u * t + 1u] * params.dim + s;
    for (var k = 0u; k < len; k++) {
      let r = queries[qb + k] - centroids[lb + k];
      let diff = r - codebooks[cb + k];
      d += diff * diff;
    }
  }
  out[i] = d;
}
