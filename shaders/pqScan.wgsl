// ADC scan: out[i] = bias + Σ_j table[j * ksub + code(i, j)].
//
// Buffers:
//   table  f32[m × ksub]  (the per-(query, list) lookup table built on the CPU, pq.ts adcTable)
//   codes  u32[ceil(n × m / 4)]: a list's codes exactly as stored in the index — n entries × m
//          bytes, row-major — packed little-endian four bytes to a u32
//          (byte b is (codes[b / 4] >> 8·(b % 4)) & 0xff)
//   out    f32[n]
// One invocation per entry; neighbouring invocations read neighbouring code rows.
// WORKGROUP is a constant, not an `override`: Dawn on SwiftShader aborted on override-sized
// workgroups.

struct Params {
  n: u32,
  m: u32,
  ksub: u32,
  bias: f32,
  perGridRow: u32, // invocations per grid row: x extent × WORKGROUP
}

const WORKGROUP: u32 = 256u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> table: array<f32>;
@group(0) @binding(2) var<storage, read> codes: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.y * params.perGridRow + gid.x;
  if (i >= params.n) {
    return;
  }
  var s = params.bias;
  let base = i * params.m;
  for (var j = 0u; j < params.m; j++) {
    let b = base + j;
    let code = (codes[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu;
    s += table[j * params.ksub + code];
  }
  out[i] = s;
}
