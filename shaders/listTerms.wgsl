// The query-independent part of L2 ADC distances, once per index (Faiss's "precomputed
// tables"): with x = c_l + Σ_j e_j, ‖q − x‖² = ‖q − c_l‖² + Σ_j (‖e_j‖² + 2⟨c_l^j, e_j⟩) − 2 Σ_j ⟨q^j, e_j⟩,
// so a scan adds terms[l][j][code] and 2 × the query's inner-product table (adcTables.wgsl, ip)
// instead of building a table per (query, list) pair:
//   terms[(l·m + j)·ksub + c] = ‖e_jc‖² + 2⟨c_l[subspace j], e_jc⟩
//
// Buffers:
//   centroids f32[nlist × dim]
//   codebooks f32[ksub × dim] (index/pq.ts layout)
//   starts    u32[m + 1]
//   terms     f32[nlist × m × ksub]
// One invocation per output value.

struct Params {
  nlist: u32,
  m: u32,
  ksub: u32,
  dim: u32,
  perGridRow: u32,
}

const WORKGROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> centroids: array<f32>;
@group(0) @binding(2) var<storage, read> codebooks: array<f32>;
@group(0) @binding(3) var<storage, read> starts: array<u32>;
@group(0) @binding(4) var<storage, read_write> terms: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * params.perGridRow + gid.x;
  let per = params.m * params.ksub;
  if (i >= params.nlist * per) {
    return;
  }
  let l = i / per;
  let j = (i % per) / params.ksub;
  let c = i % params.ksub;
  let s = starts[j];
  let len = starts[j + 1u] - s;
  let eb = params.ksub * s + c * len;
  let lb = l * params.dim + s;
  var norm = 0.0;
  var cross = 0.0;
  for (var t = 0u; t < len; t++) {
    let e = codebooks[eb + t];
    norm += e * e;
    cross += centroids[lb + t] * e;
  }
  terms[i] = norm + 2.0 * cross;
}
