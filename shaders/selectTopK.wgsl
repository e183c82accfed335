// Top-k selection on the GPU: per query, the candidates that can be among its k smallest
// distances, compacted so that about k — not every scanned entry — come back to the CPU.
// One workgroup per query:
//   1. min and max of the query's finite distances (a workgroup reduction)
//   2. a BINS-bin histogram of them, and the first bin T where the running count reaches k
//   3. every entry in bins ≤ T appended to the query's output slots (atomic, up to cap)
// The bin of a distance never decreases as the distance grows, so every entry at or below the
// k-th smallest distance lands in a bin ≤ T: the host sorts what came back by (distance, row)
// and keeps k, exactly what a CPU scan keeps. counts[q] > cap says the slots overflowed (many
// near-equal distances): the host then reads the query's whole range.
//
// Buffers:
//   ranges   u32[nq × 2]: the query's [start, end) in dist / rows (scanLists.wgsl output)
//   dist f32[], rows u32[]: entries with row NO_ROW or a distance that is not finite are skipped
//   counts   u32[nq]: candidates found (may exceed cap)
//   outDist  f32[nq × cap], outRows u32[nq × cap]: the first cap of them, in no particular order

struct Params {
  nq: u32,
  k: u32,
  cap: u32,
  groupsPerRow: u32, // workgroups per grid row (x extent)
}

const WORKGROUP: u32 = 256u;
// tunable (pipeline constant, GpuContext.tunables): finer bins return fewer extra candidates
override BINS: u32 = 1024u;
const NO_ROW: u32 = 0xffffffffu; // an entry a filter left out (scanLists.wgsl)
const MAX_F32: f32 = 0x1.fffffep+127f;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ranges: array<u32>;
@group(0) @binding(2) var<storage, read> dist: array<f32>;
@group(0) @binding(3) var<storage, read> rows: array<u32>;
@group(0) @binding(4) var<storage, read_write> counts: array<u32>;
@group(0) @binding(5) var<storage, read_write> outDist: array<f32>;
@group(0) @binding(6) var<storage, read_write> outRows: array<u32>;

var<workgroup> lo: array<f32, WORKGROUP>;
var<workgroup> hi: array<f32, WORKGROUP>;
var<workgroup> bins: array<atomic<u32>, BINS>;
var<workgroup> threshold: u32;
var<workgroup> found: atomic<u32>;

fn finite(v: f32) -> bool {
  return (bitcast<u32>(v) & 0x7f800000u) != 0x7f800000u;
}

/** A distance that may become a candidate: finite, of a row no filter left out. */
fn live(i: u32) -> bool {
  return rows[i] != NO_ROW && finite(dist[i]);
}

fn binOf(v: f32, mn: f32, scale: f32) -> u32 {
  return u32(min((v - mn) * scale, f32(BINS - 1u)));
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let q = wid.y * params.groupsPerRow + wid.x;
  if (q >= params.nq) {
    return;
  }
  let start = ranges[2u * q];
  let end = ranges[2u * q + 1u];
  var mn = MAX_F32;
  var mx = -MAX_F32;
  for (var i = start + li; i < end; i += WORKGROUP) {
    let v = dist[i];
    if (live(i)) {
      mn = min(mn, v);
      mx = max(mx, v);
    }
  }
  lo[li] = mn;
  hi[li] = mx;
  for (var b = li; b < BINS; b += WORKGROUP) {
    atomicStore(&bins[b], 0u);
  }
  if (li == 0u) {
    atomicStore(&found, 0u);
  }
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride /= 2u) {
    if (li < stride) {
      lo[li] = min(lo[li], lo[li + stride]);
      hi[li] = max(hi[li], hi[li + stride]);
    }
    workgroupBarrier();
  }
  mn = lo[0];
  mx = hi[0];
  var scale = 0.0;
  if (mx > mn) {
    scale = f32(BINS) / (mx - mn);
    if (!finite(scale)) {
      scale = 0.0;
    }
  }
  for (var i = start + li; i < end; i += WORKGROUP) {
    let v = dist[i];
    if (live(i)) {
      atomicAdd(&bins[binOf(v, mn, scale)], 1u);
    }
  }
  workgroupBarrier();
  if (li == 0u) {
    var total = 0u;
    var t = BINS - 1u;
    for (var b = 0u; b < BINS; b++) {
      total += atomicLoad(&bins[b]);
      if (total >= params.k) {
        t = b;
        break;
      }
    }
    threshold = t;
  }
  workgroupBarrier();
  let t = threshold;
  let base = q * params.cap;
  for (var i = start + li; i < end; i += WORKGROUP) {
    let v = dist[i];
    if (live(i) && binOf(v, mn, scale) <= t) {
      let slot = atomicAdd(&found, 1u);
      if (slot < params.cap) {
        outDist[base + slot] = v;
        outRows[base + slot] = rows[i];
      }
    }
  }
  workgroupBarrier();
  if (li == 0u) {
    counts[q] = atomicLoad(&found);
  }
}
