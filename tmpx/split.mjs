import { DuckDBInstance } from '@duckdb/node-api'
const instance = await DuckDBInstance.create(':memory:')
const conn = await instance.connect()
const n = Number(process.argv[2])
for (let i = 0; i < n; i++)
  await conn.run(`COPY (SELECT * FROM '../shared/data/wordnet-fasttext-words-100d/base.parquet' WHERE id % ${n} = ${i} ORDER BY id) TO '.bench/parts${n}/part-${i}.parquet' (FORMAT parquet)`)
console.log('ok')
