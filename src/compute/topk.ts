/**
 * Keeps the k best (smallest distance) entries seen; ties go to the lower row, so the result
 * does not depend on the order entries arrive in. A max-heap on (distance, row).
 */
export class TopK {
  readonly k: number
  private dist: Float64Array
  private row: Float64Array
  size = 0

  constructor(k: number) {
    this.k = k
    this.dist = new Float64Array(k)
    this.row = new Float64Array(k)
  }

  /** Distance an entry must beat to get in (Infinity until full). */
  get bound(): number {
    return this.size < this.k ? Number.POSITIVE_INFINITY : (this.dist[0] as number)
  }

  push(distance: number, row: number): void {
    if (this.k === 0) return
    if (this.size < this.k) {
      let i = this.size++
      while (i > 0) {
        const parent = (i - 1) >> 1
        if (!this.worse(distance, row, this.dist[parent] as number, this.row[parent] as number)) break
        this.dist[i] = this.dist[parent] as number
        this.row[i] = this.row[parent] as number
        i = parent
      }
      this.dist[i] = distance
      this.row[i] = row
      return
    }
    if (!this.worse(this.dist[0] as number, this.row[0] as number, distance, row)) return
    let i = 0
    const n = this.size
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && this.worse(this.dist[r] as number, this.row[r] as number, this.dist[l] as number, this.row[l] as number) ? r : l
      if (!this.worse(this.dist[c] as number, this.row[c] as number, distance, row)) break
      this.dist[i] = this.dist[c] as number
      this.row[i] = this.row[c] as number
      i = c
    }
    this.dist[i] = distance
    this.row[i] = row
  }

  /** Entries best first. */
  sorted(): Array<{ row: number; distance: number }> {
    const out: Array<{ row: number; distance: number }> = []
    for (let i = 0; i < this.size; i++) out.push({ row: this.row[i] as number, distance: this.dist[i] as number })
    return out.sort((a, b) => a.distance - b.distance || a.row - b.row)
  }

  private worse(d1: number, r1: number, d2: number, r2: number): boolean {
    return d1 > d2 || (d1 === d2 && r1 > r2)
  }
}
