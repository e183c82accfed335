// Exact distances: out[q · n + v] = ‖queries[q] − vectors[v]‖² (squared L2), or ⟨queries[q],
// vectors[v]⟩ when params.ip is 1 (inner product: dot and cosine ranking, flat search).
//
// Buffers (row-major float32 read as vec4s, dim4 = ⌈dim / 4⌉: the host pads rows whose dim is
// not a multiple of 4 with zeros, which change neither distance; exact.ts padRows):
//   queries  vec4<f32>[q × dim4]      vectors  vec4<f32>[n × dim4]      out  f32[q × n] (query-major)
// A workgroup handles WORKGROUP / LANES vectors for one chunk of params.qPer queries; the LANES
// invocations of a vector read it as consecutive 16-byte loads (coalesced) and keep QB queries'
// partial sums in registers, so each vector load serves QB queries; the partial sums meet in
// workgroup memory once per QB queries. Chunks of queries are further workgroups, so a large
// batch against few vectors (probing: queries × centroids) still fills the GPU. The host
// dispatches params.groupsPerChunk × ⌈q / qPer⌉ workgroups (exact.ts exactDispatch).
//
// Two entry points, the same sums in the same order while LANES ≤ STAGE (GpuContext.tunables.STAGED
// picks):
//   main:   each invocation reads the queries' values it needs from storage, QB of them per
//           vector load (on an H200 a vector load alone ran at 3.9 TB/s in refinePairs, this at
//           1.0 TB/s with one query and 0.5 with eight)
//   staged: the workgroup first copies its QB queries into workgroup memory, STAGE vec4s of each
//           at a time (coalesced, once for its WORKGROUP / LANES vectors), and the vector loads
//           are the only reads of storage in the inner loop

struct Params {
  n: u32,
  q: u32,
  dim4: u32,
  groupsPerRow: u32, // workgroups per grid row (x extent)
  ip: u32,
  groupsPerChunk: u32, // ⌈n / (WORKGROUP / LANES)⌉
  qPer: u32, // queries per chunk, a multiple of QB
}

const WORKGROUP: u32 = 256u;
const QB: u32 = 8u; // queries per register block
// tunable (pipeline constant, GpuContext.tunables): invocations sharing a vector, a power of two
// dividing WORKGROUP
override LANES: u32 = 8u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> queries: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read> vectors: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

var<workgroup> partial: array<f32, 2048>; // QB × WORKGROUP, query-major
const STAGE: u32 = 64u; // staged: vec4s of each query a stage holds, QB × STAGE × 16 B = 8 KiB
var<workgroup> stagedQueries: array<vec4<f32>, 512>; // QB × STAGE, query-major

/** The workgroup's chunk of queries [x, y) — empty past the last query. */
fn chunkOf(wid: vec3u) -> vec2u {
  let g = wid.y * params.groupsPerRow + wid.x;
  let qStart = (g / params.groupsPerChunk) * params.qPer;
  return vec2u(qStart, min(params.q, qStart + params.qPer));
}

/** This invocation's vector and its lane among the vector's LANES invocations. */
struct Share {
  v: u32,
  lane: u32,
}

fn shareOf(wid: vec3u, li: u32) -> Share {
  let g = wid.y * params.groupsPerRow + wid.x;
  return Share((g % params.groupsPerChunk) * (WORKGROUP / LANES) + li / LANES, li % LANES);
}

/** What x and y add to a sum: their dot product (params.ip) or their squared distance. */
fn term(x: vec4<f32>, y: vec4<f32>) -> f32 {
  if (params.ip == 1u) {
    return dot(x, y);
  }
  let d = x - y;
  return dot(d, d);
}

/**
 * Queries q0 … q0 + nt − 1 against the invocation's vector: each query's LANES partial sums
 * (`sums`, this invocation's) added up in workgroup memory and written out. Called by the whole
 * workgroup (it holds barriers).
 */
fn finish(sh: Share, li: u32, q0: u32, nt: u32, sums: array<f32, QB>) {
  var s = sums;
  for (var t = 0u; t < QB; t++) {
    partial[t * WORKGROUP + li] = s[t];
  }
  workgroupBarrier();
  // the vector's first nt lanes each add up one query's LANES partial sums
  if (sh.v < params.n) {
    for (var t = sh.lane; t < nt; t += LANES) {
      var sum = 0.0;
      let at = t * WORKGROUP + li - sh.lane;
      for (var l = 0u; l < LANES; l++) {
        sum += partial[at + l];
      }
      out[(q0 + t) * params.n + sh.v] = sum;
    }
  }
  workgroupBarrier();
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let chunk = chunkOf(wid);
  let sh = shareOf(wid, li);
  let dim4 = params.dim4;
  let vb = sh.v * dim4;
  for (var q0 = chunk.x; q0 < chunk.y; q0 += QB) {
    let nt = min(QB, chunk.y - q0);
    var s = array<f32, QB>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0); // explicit: see assignNearest.wgsl
    if (sh.v < params.n) {
      for (var j = sh.lane; j < dim4; j += LANES) {
        let x = vectors[vb + j];
        for (var t = 0u; t < QB; t++) {
          if (t < nt) {
            s[t] += term(x, queries[(q0 + t) * dim4 + j]);
          }
        }
      }
    }
    finish(sh, li, q0, nt, s);
  }
}

@compute @workgroup_size(WORKGROUP)
fn staged(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let chunk = chunkOf(wid);
  let sh = shareOf(wid, li);
  let dim4 = params.dim4;
  let vb = sh.v * dim4;
  for (var q0 = chunk.x; q0 < chunk.y; q0 += QB) {
    let nt = min(QB, chunk.y - q0);
    var s = array<f32, QB>(0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
    for (var j0 = 0u; j0 < dim4; j0 += STAGE) {
      let nj = min(STAGE, dim4 - j0);
      workgroupBarrier(); // the last stage is no longer read
      for (var i = li; i < QB * STAGE; i += WORKGROUP) {
        let t = i / STAGE;
        let j = i % STAGE;
        var y = vec4<f32>(0.0);
        if (t < nt && j < nj) {
          y = queries[(q0 + t) * dim4 + j0 + j];
        }
        stagedQueries[i] = y;
      }
      workgroupBarrier();
      if (sh.v < params.n) {
        for (var j = sh.lane; j < nj; j += LANES) {
          let x = vectors[vb + j0 + j];
          for (var t = 0u; t < QB; t++) {
            if (t < nt) {
              s[t] += term(x, stagedQueries[t * STAGE + j]);
            }
          }
        }
      }
    }
    finish(sh, li, q0, nt, s);
  }
}
