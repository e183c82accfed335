import { it } from 'vitest'
import { encodeAll, resolveParams, trainModel } from '../src/index/train.js'
import { searchInMemory } from '../src/search/memory.js'
import { loadDataset, recallAtK } from './helpers/data.js'

it('x', async () => {
  const ds = await loadDataset('wordnet-fasttext-words-100d')
  const { dim } = ds.base
  const n = ds.base.rowIds.length
  for (const opt of [{ nlist: 250 }, { nlist: 1000 }, { nlist: 1000, m: 13 }]) {
    const params = resolveParams(ds.base.rows, n, dim, opt)
    const model = await trainModel(ds.base.data, n, params)
    const lists = await encodeAll(model, ds.base.data, n, ds.base.rowIds)
    for (const frac of [0.05, 0.1, 0.15, 0.25]) {
      const nprobe = Math.ceil(params.nlist * frac)
      const found: number[][] = []
      for (let q = 0; q < 200; q++) {
        const hits = searchInMemory(
          model,
          lists,
          (r) => ds.base.data.subarray(r * dim, (r + 1) * dim),
          ds.queries.data.subarray(q * dim, (q + 1) * dim),
          { k: 10, nprobe, refine: 10 },
        )
        found.push(hits.map((h) => ds.ids[h.row] as number))
      }
      console.log('RESULT', JSON.stringify(opt), 'nprobe', nprobe, 'recall', recallAtK(found, ds.truth('l2'), 10).toFixed(3))
    }
  }
}, 900000)
