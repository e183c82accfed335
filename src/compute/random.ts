/** Seeded PRNG (mulberry32): every random choice in index building goes through one of these. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** k distinct indices out of [0, n), sorted ascending (sorted keeps memory access sequential). */
export function sampleIndices(n: number, k: number, rand: () => number): Uint32Array {
  if (k >= n) return Uint32Array.from({ length: n }, (_, i) => i)
  // Floyd's algorithm: O(k) memory regardless of n.
  const chosen = new Set<number>()
  for (let j = n - k; j < n; j++) {
    const t = Math.floor(rand() * (j + 1))
    chosen.add(chosen.has(t) ? j : t)
  }
  return Uint32Array.from(chosen).sort()
}
