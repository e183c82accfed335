// PQ scan over many inverted lists at once: every entry of every (query, probed list) segment
// gets its asymmetric distance and its row id, side by side in the query's output range:
//   per-pair tables (params.precomputed 0): bias + Σ_j table[j][code_j], summed in order from
//     the bias as compute/js.ts pqScan does (the same numbers as the CPU, up to fused adds)
//   precomputed (1, L2 only): bias + entryTerms[entry] + 2 · Σ_j table[j][code_j] (the sum from 0,
//     in order) with the query's inner-product table; bias = ‖q − c_list‖². An entry's terms —
//     Σ_j terms[list][j][code_j] over listTerms.wgsl's terms — do not depend on the query, so
//     they are summed once, when its list becomes resident (this shader again, per-pair mode, the
//     list's terms as its table and the terms as its output; listScan.ts entryTermsFor): a
//     query's scan then looks up one table per code instead of two
//
// Two entry points, one pass each over its own items (listScan.ts picks per block):
//   tiled:  a workgroup scores a block of up to WORKGROUP × PER entries of one segment and, where
//           the next segments are scored with the same table (a query's lists in a batch that
//           shares one table a query), of those after it — with lookups in workgroup memory, not
//           in the tables in storage: the block's table
//           is copied in TILE subspaces at a time (coalesced loads shared by the block) and each
//           invocation adds that tile's values for its PER entries — a random 4-byte gather
//           from global memory per code byte becomes a read of workgroup memory.
//           TILE × ksub floats = 16 KiB, WebGPU's guaranteed workgroup storage.
//   direct: one invocation per entry reading the values it uses straight from storage, for
//           blocks too short to repay copying a table in (short lists, a long list's tail).
// Both add the same values in the same order.
//
// Buffers:
//   tables   f32[ntables × m × ksub] (adcTables.wgsl)
//   entryTerms f32[]: each resident entry's terms (above) when precomputed, else unused
//   codes    vec4<u32>[]: the lists resident on the GPU, interleaved in groups of GROUP entries
//            so that neighbouring invocations read neighbouring 16-byte quads: quad t of entry e
//            — its code bytes 16t … 16t + 15, little-endian, byte b in bits 8·(b % 4) of
//            component (b / 4) % 4 — is codes[((e / GROUP) · Q + t) · GROUP + e % GROUP],
//            Q = ⌈m / 16⌉ (listScan.ts interleave); one quad is one tile of subspaces
//   rows     u32[]: row id of resident entry e
//   work     u32[]: segments, SEGMENT words each — table, bias (f32 bits), first resident entry,
//            entries, first output — then from params.itemsAt the items, ITEM words each:
//            segment, first entry of it, entries (tiled: a block of ≤ WORKGROUP × PER entries,
//            going on into the following segments, which share its table: listScan.ts scanPlan;
//            direct: ≤ WORKGROUP entries of the one segment)
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
// tunable (pipeline constant, GpuContext.tunables): tiled, entries per invocation — a block of
// WORKGROUP × PER entries (listScan.ts blockOf) shares each table tile copied in, so longer blocks
// copy fewer tables a code byte; at most MAX_PER
override PER: u32 = 4u;
const MAX_PER: u32 = 32u;
const NO_ROW: u32 = 0xffffffffu;
const SEGMENT: u32 = 5u;
const ITEM: u32 = 3u; // words an item: segment, first entry of it, entries
const GROUP: u32 = 32u;
const TILE: u32 = 16u; // subspaces per tile: one vec4<u32> of code bytes

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> tables: array<f32>;
@group(0) @binding(2) var<storage, read> entryTerms: array<f32>;
@group(0) @binding(3) var<storage, read> codes: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read> rows: array<u32>;
@group(0) @binding(5) var<storage, read> work: array<u32>;
@group(0) @binding(6) var<storage, read> allowed: array<u32>;
@group(0) @binding(7) var<storage, read_write> dist: array<f32>;
@group(0) @binding(8) var<storage, read_write> outRows: array<u32>;

var<workgroup> lut: array<f32, 4096>; // TILE × 256 (tiled only)

/**
 * Entry e of segment `seg` (at word seg of work): writes its row id — NO_ROW when the filter
 * leaves it out — and returns where its codes start (quads, see above), or NO_ROW.
 */
fn begin(seg: u32, e: u32) -> u32 {
  let entry = work[seg + 2u] + e;
  let row = rows[entry];
  let at = work[seg + 4u] + e;
  if (params.filtered == 1u && ((allowed[row >> 5u] >> (row & 31u)) & 1u) == 0u) {
    outRows[at] = NO_ROW;
    dist[at] = 0.0;
    return NO_ROW;
  }
  outRows[at] = row;
  return (entry / GROUP) * ((params.m + TILE - 1u) / TILE) * GROUP + entry % GROUP;
}

/** acc plus the table values of the four codes in `word`, subspaces j … j + 3 (those below m), read from storage. */
fn direct4(acc: f32, word: u32, j: u32, tb: u32) -> f32 {
  var s = acc;
  for (var b = 0u; b < 4u; b++) {
    if (j + b < params.m) {
      s += tables[tb + (j + b) * params.ksub + ((word >> (8u * b)) & 0xffu)];
    }
  }
  return s;
}

/** Where an entry's sum of table values starts: the segment's bias, or (precomputed) 0. */
fn sumStart(seg: u32) -> f32 {
  if (params.precomputed == 1u) {
    return 0.0;
  }
  return bitcast<f32>(work[seg + 1u]);
}

/** Entry e of segment `seg`'s distance from its sum of table values (see the top). */
fn distanceOf(seg: u32, e: u32, sum: f32) -> f32 {
  if (params.precomputed == 1u) {
    return bitcast<f32>(work[seg + 1u]) + entryTerms[work[seg + 2u] + e] + 2.0 * sum;
  }
  return sum;
}

/** acc plus the tile's values of the four codes in `word`, the tile's subspaces b … b + 3 (those below nj). */
fn tiled4(acc: f32, word: u32, b: u32, nj: u32) -> f32 {
  var s = acc;
  for (var k = 0u; k < 4u; k++) {
    if (b + k < nj) {
      s += lut[(b + k) * params.ksub + ((word >> (8u * k)) & 0xffu)];
    }
  }
  return s;
}

/** The workgroup's item: its segment's first word in work, its first entry there, its entries (x NO_ROW: none). */
fn itemOf(wid: vec3u) -> vec3u {
  let item = wid.y * params.groupsPerRow + wid.x;
  if (item >= params.nitems) {
    return vec3u(NO_ROW, 0u, 0u);
  }
  let at = params.itemsAt + ITEM * item;
  return vec3u(work[at] * SEGMENT, work[at + 1u], work[at + 2u]);
}

@compute @workgroup_size(WORKGROUP)
fn direct(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let item = itemOf(wid);
  if (item.x == NO_ROW) {
    return;
  }
  let seg = item.x;
  if (li >= item.z) {
    return;
  }
  let e = item.y + li;
  let base = begin(seg, e);
  if (base == NO_ROW) {
    return;
  }
  let tb = work[seg] * params.m * params.ksub;
  var acc = sumStart(seg);
  for (var t = 0u; t < (params.m + TILE - 1u) / TILE; t++) {
    let quad = codes[base + t * GROUP];
    let j = t * TILE;
    acc = direct4(acc, quad.x, j, tb);
    acc = direct4(acc, quad.y, j + 4u, tb);
    acc = direct4(acc, quad.z, j + 8u, tb);
    acc = direct4(acc, quad.w, j + 12u, tb);
  }
  dist[work[seg + 4u] + e] = distanceOf(seg, e, acc);
}

@compute @workgroup_size(WORKGROUP)
fn tiled(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) li: u32) {
  let item = itemOf(wid);
  if (item.x == NO_ROW) {
    return;
  }
  let first = item.y;
  let count = item.z;
  let m = params.m;
  let ksub = params.ksub;
  // the item's segments share its first segment's table
  let tb = work[item.x] * m * ksub;

  // this invocation's entries: the block's entries p · WORKGROUP + li (neighbouring invocations,
  // neighbouring entries), each found in its segment by walking on from the last one's: block
  // entry k is entry first + k of the run from the item's segment on
  var s: array<f32, MAX_PER>;
  var base: array<u32, MAX_PER>;
  var segOf: array<u32, MAX_PER>;
  var entryOf: array<u32, MAX_PER>;
  var seg = item.x;
  var before = 0u; // entries of the run ahead of segment `seg`
  for (var p = 0u; p < PER; p++) {
    let k = p * WORKGROUP + li;
    base[p] = NO_ROW;
    if (k < count) {
      let at = first + k;
      while (at - before >= work[seg + 3u]) {
        before += work[seg + 3u];
        seg += SEGMENT;
      }
      segOf[p] = seg;
      entryOf[p] = at - before;
      s[p] = sumStart(seg);
      base[p] = begin(seg, at - before);
    }
  }

  for (var t = 0u; t < (m + TILE - 1u) / TILE; t++) {
    let j0 = t * TILE;
    let nj = min(TILE, m - j0);
    workgroupBarrier(); // the previous tile is no longer read
    for (var i = li; i < nj * ksub; i += WORKGROUP) {
      lut[i] = tables[tb + j0 * ksub + i];
    }
    workgroupBarrier();
    for (var p = 0u; p < PER; p++) {
      if (base[p] != NO_ROW) {
        let quad = codes[base[p] + t * GROUP];
        var acc = s[p];
        acc = tiled4(acc, quad.x, 0u, nj);
        acc = tiled4(acc, quad.y, 4u, nj);
        acc = tiled4(acc, quad.z, 8u, nj);
        acc = tiled4(acc, quad.w, 12u, nj);
        s[p] = acc;
      }
    }
  }

  for (var p = 0u; p < PER; p++) {
    if (base[p] != NO_ROW) {
      dist[work[segOf[p] + 4u] + entryOf[p]] = distanceOf(segOf[p], entryOf[p], s[p]);
    }
  }
}
