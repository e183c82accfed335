// PQ scan over many inverted lists at once: every entry of every (query, probed list) segment
// gets its asymmetric distance and its row id, side by side in the query's output range:
//   per-pair tables (params.precomputed 0): bias + Σ_j table[j][code_j], summed in order from
//     the bias as compute/js.ts pqScan does (the same numbers as the CPU, up to fused adds)
//   precomputed (1, L2 only): bias + Σ_j (terms[list][j][code_j] + 2 · table[j][code_j]) with the
//     query's inner-product table and listTerms.wgsl's terms; bias = ‖q − c_list‖²
//
// A workgroup scores BLOCK = WORKGROUP × PER entries of one segment (an item). Lookups go to
// workgroup memory, not to the tables in storage: the segment's table is copied in, TILE
// subspaces at a time (coalesced loads, shared by the BLOCK entries), and each invocation adds
// that tile's values for its PER entries — so a random 4-byte gather from global memory per
// code byte becomes a bank-conflicted read of workgroup memory. TILE × ksub floats = 16 KiB,
// WebGPU's guaranteed workgroup storage.
//
// Buffers:
//   tables   f32[ntables × m × ksub] (adcTables.wgsl)
//   terms    f32[nlist × m × ksub] (listTerms.wgsl) when precomputed, else unused
//   codes    vec4<u32>[]: the lists resident on the GPU, interleaved in groups of GROUP entries
//            so that neighbouring invocations read neighbouring 16-byte quads: quad t of entry e
//            — its code bytes 16t … 16t + 15, little-endian, byte b in bits 8·(b % 4) of
//            component (b / 4) % 4 — is codes[((e / GROUP) · Q + t) · GROUP + e % GROUP],
//            Q = ⌈m / 16⌉ (listScan.ts interleave); one quad is one tile of subspaces
//   rows     u32[]: row id of resident entry e
//   work     u32[]: segments, SEGMENT words each — table, bias (f32 bits), first resident entry,
//            entries, first output, list — then from params.itemsAt the items, 2 words each:
//            segment, first entry of it (a multiple of BLOCK)
//   allowed  u32[]: row bitmap (bit r % 32 of word r / 32) when params.filtered is 1: rows
//            outside it get row id NO_ROW and never become candidates
//   dist     f32[total], outRows u32[total]

struct Params {
  nitems: u32,
  m: u32,
  ksub: u32, // ≤ 256
  filtered: u32,
  groupsPerRow: u32, // workgroups per grid row (x extent)
  itemsAt: u32,
  precomputed: u32,
}

const WORKGROUP: u32 = 256u;
const PER: u32 = 4u; // entries per invocation (listScan.ts BLOCK = WORKGROUP × PER)
const NO_ROW: u32 = 0xffffffffu;
const SEGMENT: u32 = 6u;
const GROUP: u32 = 32u;
const TILE: u32 = 16u; // subspaces per tile: one vec4<u32> of code bytes

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tables: array<f32>;
@group(0) @binding(2) var<storage, read> terms: array<f32>;
@group(0) @binding(3) var<storage, read> codes: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> rows: array<u32>;
@group(0) @binding(5) var<storage, read> work: array<u32>;
@group(0) @binding(6) var<storage, read> allowed: array<u32>;
@group(0) @binding(7) var<storage, read_write> dist: array<f32>;
@group(0) @binding(8) var<storage, read_write> outRows: array<u32>;

var<workgroup> lut: array<f32, 4096>; // TILE × 256

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let item = wid.y * params.groupsPerRow + wid.x;
  if (item >= params.nitems) {
    return;
  }
  let seg = work[params.itemsAt + 2u * item] * SEGMENT;
  let first = work[params.itemsAt + 2u * item + 1u];
  let count = work[seg + 3u];
  let m = params.m;
  let ksub = params.ksub;
  let tb = work[seg] * m * ksub;
  let lb = work[seg + 5u] * m * ksub;
  let quads = (m + TILE - 1u) / TILE;

  // this invocation's entries: first + p · WORKGROUP + li (neighbouring invocations, neighbouring entries)
  var s: array<f32, PER>;
  var scored: array<bool, PER>;
  var base: array<u32, PER>;
  for (var p = 0u; p < PER; p++) {
    let e = first + p * WORKGROUP + li;
    s[p] = bitcast<f32>(work[seg + 1u]);
    scored[p] = false;
    if (e < count) {
      let entry = work[seg + 2u] + e;
      let row = rows[entry];
      let at = work[seg + 4u] + e;
      if (params.filtered == 1u && ((allowed[row >> 5u] >> (row & 31u)) & 1u) == 0u) {
        outRows[at] = NO_ROW;
        dist[at] = 0.0;
      } else {
        outRows[at] = row;
        scored[p] = true;
        base[p] = (entry / GROUP) * quads * GROUP + entry % GROUP;
      }
    }
  }

  for (var t = 0u; t < quads; t++) {
    let j0 = t * TILE;
    let nj = min(TILE, m - j0);
    workgroupBarrier(); // the previous tile is no longer read
    for (var i = li; i < nj * ksub; i += WORKGROUP) {
      let at = (j0 + i / ksub) * ksub + i % ksub;
      if (params.precomputed == 1u) {
        lut[i] = terms[lb + at] + 2.0 * tables[tb + at];
      } else {
        lut[i] = tables[tb + at];
      }
    }
    workgroupBarrier();
    for (var p = 0u; p < PER; p++) {
      if (scored[p]) {
        let quad = codes[base[p] + t * GROUP];
        var acc = s[p];
        for (var b = 0u; b < nj; b++) {
          let code = (quad[b / 4u] >> (8u * (b % 4u))) & 0xffu;
          acc += lut[b * ksub + code];
        }
        s[p] = acc;
      }
    }
  }

  for (var p = 0u; p < PER; p++) {
    if (scored[p]) {
      dist[work[seg + 4u] + first + p * WORKGROUP + li] = s[p];
    }
  }
}
