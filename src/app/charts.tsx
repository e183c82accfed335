import type { IndexView, RecallPoint } from '../../workers/engineApi.js'
import type { Stage } from '../search/engine.js'

/** Small SVG charts; every chart has a text equivalent (title/desc) for assistive tech. */

const W = 320
const H = 180

export function StageBars({ ms }: { ms: Record<Stage, number> }) {
  const entries = Object.entries(ms) as Array<[Stage, number]>
  const max = Math.max(1e-3, ...entries.map(([, v]) => v))
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${entries.length * 22 + 4}`} role="img" aria-label="Milliseconds by stage">
      <title>{entries.map(([k, v]) => `${k} ${v.toFixed(1)} ms`).join(', ')}</title>
      {entries.map(([k, v], i) => (
        <g key={k} transform={`translate(0, ${i * 22 + 2})`}>
          <text x={0} y={14} fontSize={12}>
            {k}
          </text>
          <rect x={60} y={3} height={14} width={Math.max(1, (v / max) * (W - 130))} className="c-accent" />
          <text x={66 + (v / max) * (W - 130)} y={14} fontSize={12}>
            {v.toFixed(1)} ms
          </text>
        </g>
      ))}
    </svg>
  )
}

/** Distribution of list sizes (entries per inverted list), in up to 24 buckets. */
export function Histogram({ sizes }: { sizes: number[] }) {
  const max = Math.max(1, ...sizes)
  const buckets = Math.min(24, max + 1)
  const counts = new Array<number>(buckets).fill(0)
  for (const s of sizes) {
    const b = Math.min(buckets - 1, Math.floor((s / (max + 1)) * buckets))
    counts[b] = (counts[b] as number) + 1
  }
  const top = Math.max(1, ...counts)
  const bw = (W - 20) / buckets
  return (
    <figure>
      <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="List sizes">
        <title>{`${sizes.length} lists; entries per list from ${Math.min(...sizes)} to ${max}`}</title>
        {counts.map((c, i) => (
          <rect
            // biome-ignore lint/suspicious/noArrayIndexKey: buckets are positional
            key={i}
            x={10 + i * bw}
            y={H - 20 - (c / top) * (H - 30)}
            width={Math.max(1, bw - 1)}
            height={(c / top) * (H - 30)}
            className="c-bar"
          />
        ))}
        <text x={10} y={H - 5} fontSize={11}>
          0
        </text>
        <text x={W - 10} y={H - 5} fontSize={11} textAnchor="end">
          {max} entries
        </text>
      </svg>
      <figcaption>Entries per list ({sizes.length} lists)</figcaption>
    </figure>
  )
}

/** Centroids on their first two principal axes (area ∝ list size); probed lists and the query highlighted. */
export function CentroidMap({ view, probed, query }: { view: IndexView; probed?: number[]; query?: [number, number] }) {
  const pts = query ? [...view.points, query] : view.points
  const xs = pts.map((p) => p[0])
  const ys = pts.map((p) => p[1])
  const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)]
  const sx = (x: number) => 10 + ((x - x0) / Math.max(1e-9, x1 - x0)) * (W - 20)
  const sy = (y: number) => 10 + ((y - y0) / Math.max(1e-9, y1 - y0)) * (H - 20)
  const maxSize = Math.max(1, ...view.sizes)
  const hot = new Set(probed)
  return (
    <figure>
      <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Map of the index's clusters">
        <title>{`${view.points.length} cluster centroids (PCA)${probed ? `; ${probed.length} probed by the last query` : ''}`}</title>
        {view.points.map(([x, y], l) => (
          <circle
            // biome-ignore lint/suspicious/noArrayIndexKey: list number
            key={l}
            cx={sx(x)}
            cy={sy(y)}
            r={1 + 3 * Math.sqrt((view.sizes[l] ?? 0) / maxSize)}
            className={hot.has(l) ? 'c-hot' : 'c-dim'}
          />
        ))}
        {query && (
          <path d={`M${sx(query[0]) - 5},${sy(query[1])}h10M${sx(query[0])},${sy(query[1]) - 5}v10`} className="c-query" strokeWidth={2} />
        )}
      </svg>
      <figcaption>Clusters (PCA of centroids); orange: probed by the last query, +: the query</figcaption>
    </figure>
  )
}

export function RecallChart({ points }: { points: RecallPoint[] }) {
  const maxP = Math.max(...points.map((p) => p.nprobe))
  const lx = (p: number) => 30 + (Math.log2(p) / Math.max(1, Math.log2(maxP))) * (W - 40)
  const ly = (r: number) => H - 20 - r * (H - 30)
  return (
    <svg className="chart" viewBox={`0 0 ${W} ${H}`} role="img" aria-label="Recall by nprobe">
      <title>{points.map((p) => `nprobe ${p.nprobe}: ${p.recall.toFixed(3)}`).join(', ')}</title>
      <path d={points.map((p, i) => `${i ? 'L' : 'M'}${lx(p.nprobe)},${ly(p.recall)}`).join('')} className="c-line" strokeWidth={2} />
      {points.map((p) => (
        <circle key={p.nprobe} cx={lx(p.nprobe)} cy={ly(p.recall)} r={3} className="c-accent" />
      ))}
      <text x={2} y={ly(1) + 4} fontSize={11}>
        1.0
      </text>
      <text x={2} y={ly(0) + 4} fontSize={11}>
        0
      </text>
      <text x={W - 10} y={H - 4} fontSize={11} textAnchor="end">
        nprobe (log) → {maxP}
      </text>
    </svg>
  )
}
