// Sorts each query's candidate slots (selectTopK.wgsl's output) by (distance, row) ascending —
// what a CPU TopK over them keeps, in order — so the host takes the first k as they come back
// instead of sorting a million candidates itself. One workgroup per query: its slots copied to
// workgroup memory, padded to params.size (a power of two ≥ cap, at most MAX) with entries that
// sort last, a bitonic sort, the first min(count, k) written back in place. A query whose slots
// overflowed (counts[q] > cap) is left alone: the host reads its whole range.
//
// Buffers (selectTopK.wgsl's):
//   counts   u32[nq]: candidates found (may exceed cap)
//   outDist  f32[nq × cap], outRows u32[nq × cap]: the first min(count, cap) of them

struct Params {
  nq: u32,
  k: u32,
  cap: u32,
  groupsPerRow: u32, // workgroups per grid row (x extent)
  size: u32, // a power of two ≥ cap, ≤ MAX
}

const WORKGROUP: u32 = 256u;
const MAX: u32 = 2048u; // entries sorted in 16 KiB of workgroup memory (listScan.ts SORT_MAX)
const NO_ROW: u32 = 0xffffffffu;
const MAX_F32: f32 = 0x1.fffffep+127f;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> counts: array<u32>;
@group(0) @binding(2) var<storage, read_write> outDist: array<f32>;
@group(0) @binding(3) var<storage, read_write> outRows: array<u32>;

var<workgroup> keys: array<f32, MAX>;
var<workgroup> ids: array<u32, MAX>;

/** Whether entry a sorts after entry b: the larger distance, or the same and the higher row. */
fn after(a: u32, b: u32) -> bool {
  return keys[a] > keys[b] || (keys[a] == keys[b] && ids[a] > ids[b]);
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let q = wid.y * params.groupsPerRow + wid.x;
  if (q >= params.nq) {
    return;
  }
  // the count made uniform through workgroup memory: ids[0], before the slots overwrite it (the
  // two arrays take all 16 KiB WebGPU guarantees)
  if (li == 0u) {
    ids[0] = counts[q];
  }
  let n = workgroupUniformLoad(&ids[0]);
  if (n > params.cap) {
    return;
  }
  let base = q * params.cap;
  let size = params.size;
  for (var i = li; i < size; i += WORKGROUP) {
    if (i < n) {
      keys[i] = outDist[base + i];
      ids[i] = outRows[base + i];
    } else {
      keys[i] = MAX_F32; // with row NO_ROW: after every candidate (finite, of a real row)
      ids[i] = NO_ROW;
    }
  }
  workgroupBarrier();
  for (var k = 2u; k <= size; k <<= 1u) {
    for (var j = k >> 1u; j > 0u; j >>= 1u) {
      for (var i = li; i < size; i += WORKGROUP) {
        let l = i ^ j;
        // ascending where bit k of i is clear, descending where set: merged into one order
        if (l > i && (((i & k) == 0u) == after(i, l))) {
          let key = keys[i];
          let id = ids[i];
          keys[i] = keys[l];
          ids[i] = ids[l];
          keys[l] = key;
          ids[l] = id;
        }
      }
      workgroupBarrier();
    }
  }
  for (var i = li; i < min(n, params.k); i += WORKGROUP) {
    outDist[base + i] = keys[i];
    outRows[base + i] = ids[i];
  }
}
