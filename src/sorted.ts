/**
 * The first index in [lo, hi) at which `after(i)` holds, or hi where it holds nowhere; `after`
 * must be false up to some index and true from there on. With keys ascending, `key(i) >= x`
 * finds the first key at or past x, and `key(i) > x`, less one, the last key at or before x.
 */
export function partitionPoint(lo: number, hi: number, after: (i: number) => boolean): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (after(mid)) hi = mid
    else lo = mid + 1
  }
  return lo
}
