// PQ scan over many inverted lists at once: every entry of every (query, probed list) segment
// gets its asymmetric distance bias + Σ_j table[j][code_j] — summed in order from the bias, as
// compute/js.ts pqScan does — and its row id, side by side in the query's output range.
//
// Buffers:
//   tables   f32[ntables × m × ksub] (adcTables.wgsl)
//   codes    u32[]: the lists resident on the GPU, entry e's m code bytes at byte e·m,
//            packed little-endian (byte b is (codes[b / 4] >> 8·(b % 4)) & 0xff)
//   rows     u32[]: row id of resident entry e
//   segments u32[nseg × 5]: table, bias (f32 bits), first resident entry, entries, first output
//   items    u32[nitems × 2]: segment, first entry of it — one workgroup scores WORKGROUP entries
//   allowed  u32[]: row bitmap (bit r % 32 of word r / 32) when params.filtered is 1: rows
//            outside it get row id NO_ROW and never become candidates
//   dist     f32[total], outRows u32[total]

struct Params {
  nitems: u32,
  m: u32,
  ksub: u32,
  filtered: u32,
  perGridRow: u32, // invocations per grid row: x extent × WORKGROUP
}

const WORKGROUP: u32 = 256u;
const NO_ROW: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tables: array<f32>;
@group(0) @binding(2) var<storage, read> codes: array<u32>;
@group(0) @binding(3) var<storage, read> rows: array<u32>;
@group(0) @binding(4) var<storage, read> segments: array<u32>;
@group(0) @binding(5) var<storage, read> items: array<u32>;
@group(0) @binding(6) var<storage, read> allowed: array<u32>;
@group(0) @binding(7) var<storage, read_write> dist: array<f32>;
@group(0) @binding(8) var<storage, read_write> outRows: array<u32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) li: u32) {
  let item = (gid.y * params.perGridRow + gid.x) / WORKGROUP;
  if (item >= params.nitems) {
    return;
  }
  let seg = items[2u * item] * 5u;
  let e = items[2u * item + 1u] + li;
  if (e >= segments[seg + 3u]) {
    return;
  }
  let entry = segments[seg + 2u] + e;
  let row = rows[entry];
  let at = segments[seg + 4u] + e;
  if (params.filtered == 1u && ((allowed[row >> 5u] >> (row & 31u)) & 1u) == 0u) {
    outRows[at] = NO_ROW;
    dist[at] = 0.0;
    return;
  }
  outRows[at] = row;
  let tb = segments[seg] * params.m * params.ksub;
  var s = bitcast<f32>(segments[seg + 1u]);
  let base = entry * params.m;
  for (var j = 0u; j < params.m; j++) {
    let b = base + j;
    let code = (codes[b >> 2u] >> ((b & 3u) * 8u)) & 0xffu;
    s += tables[tb + j * params.ksub + code];
  }
  dist[at] = s;
}
