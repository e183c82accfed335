// PQ scan over many inverted lists at once: every entry of every (query, probed list) segment
// gets its asymmetric distance and its row id, side by side in the query's output range:
//   per-pair tables (params.precomputed 0): bias + Σ_j table[j][code_j], summed in order from
//     the bias as compute/js.ts pqScan does (the same numbers as the CPU, up to fused adds)
//   precomputed (1, L2 only): bias + Σ_j (terms[list][j][code_j] + 2 · table[j][code_j]) with the
//     query's inner-product table and listTerms.wgsl's terms; bias = ‖q − c_list‖²
//
// Buffers:
//   tables   f32[ntables × m × ksub] (adcTables.wgsl)
//   terms    f32[nlist × m × ksub] (listTerms.wgsl) when precomputed, else unused
//   codes    u32[]: the lists resident on the GPU, interleaved in groups of GROUP entries so that
//            neighbouring invocations read neighbouring words: word w of entry e — its code
//            bytes 4w … 4w + 3, little-endian — is codes[((e / GROUP) · W + w) · GROUP + e % GROUP],
//            W = ⌈m / 4⌉ (listScan.ts interleave)
//   rows     u32[]: row id of resident entry e
//   work     u32[]: segments, SEGMENT words each — table, bias (f32 bits), first resident entry,
//            entries, first output, list — then from params.itemsAt the items, 2 words each:
//            segment, first entry of it (one workgroup scores WORKGROUP entries of a segment)
//   allowed  u32[]: row bitmap (bit r % 32 of word r / 32) when params.filtered is 1: rows
//            outside it get row id NO_ROW and never become candidates
//   dist     f32[total], outRows u32[total]

struct Params {
  nitems: u32,
  m: u32,
  ksub: u32,
  filtered: u32,
  perGridRow: u32, // invocations per grid row: x extent × WORKGROUP
  itemsAt: u32,
  precomputed: u32,
}

const WORKGROUP: u32 = 256u;
const NO_ROW: u32 = 0xffffffffu;
const SEGMENT: u32 = 6u;
const GROUP: u32 = 32u;

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tables: array<f32>;
@group(0) @binding(2) var<storage, read> terms: array<f32>;
@group(0) @binding(3) var<storage, read> codes: array<u32>;
@group(0) @binding(4) var<storage, read> rows: array<u32>;
@group(0) @binding(5) var<storage, read> work: array<u32>;
@group(0) @binding(6) var<storage, read> allowed: array<u32>;
@group(0) @binding(7) var<storage, read_write> dist: array<f32>;
@group(0) @binding(8) var<storage, read_write> outRows: array<u32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) li: u32) {
  let item = (gid.y * params.perGridRow + gid.x) / WORKGROUP;
  if (item >= params.nitems) {
    return;
  }
  let seg = work[params.itemsAt + 2u * item] * SEGMENT;
  let e = work[params.itemsAt + 2u * item + 1u] + li;
  if (e >= work[seg + 3u]) {
    return;
  }
  let entry = work[seg + 2u] + e;
  let row = rows[entry];
  let at = work[seg + 4u] + e;
  if (params.filtered == 1u && ((allowed[row >> 5u] >> (row & 31u)) & 1u) == 0u) {
    outRows[at] = NO_ROW;
    dist[at] = 0.0;
    return;
  }
  outRows[at] = row;
  let tb = work[seg] * params.m * params.ksub;
  var s = bitcast<f32>(work[seg + 1u]);
  let words = (params.m + 3u) / 4u;
  let base = (entry / GROUP) * words * GROUP + entry % GROUP;
  let lb = work[seg + 5u] * params.m * params.ksub;
  for (var w = 0u; w < words; w++) {
    let word = codes[base + w * GROUP];
    for (var b = 0u; b < 4u; b++) {
      let j = 4u * w + b;
      if (j >= params.m) {
        break;
      }
      let code = (word >> (8u * b)) & 0xffu;
      if (params.precomputed == 1u) {
        s += terms[lb + j * params.ksub + code] + 2.0 * tables[tb + j * params.ksub + code];
      } else {
        s += tables[tb + j * params.ksub + code];
      }
    }
  }
  dist[at] = s;
}
