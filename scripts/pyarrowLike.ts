import { closeSync, openSync, writeSync } from 'node:fs'
import { ByteWriter } from 'hyparquet-writer'
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js'
import { writeMetadata } from 'hyparquet-writer/src/metadata.js'
import { serializeTCompactProtocol } from 'hyparquet-writer/src/thrift.js'

/**
 * Older pyarrow (parquet-cpp before it cut repeated columns at record boundaries; read from its
 * source, the version not pinned down here) cuts a list column's DataPage V1 pages only after a
 * batch of 1,024 values, once the page is past 1 MiB: 257 batches of float32.
 */
const PYARROW_V1_PAGE_VALUES = 257 * 1024

/**
 * Writes `path`: one list<float> column `embedding` (rows of `dim` values from `data`) as older
 * pyarrow wrote it by default — DataPage V1 pages cut every `pageValues` values, so most begin
 * inside a row; no offset index; one row group — uncompressed (PLAIN values, RLE levels), a page at
 * a time. Built by hand: hyparquet-writer writes V2 pages, which always begin at rows.
 */
export function writeV1SplitList(path: string, data: Float32Array, dim: number, pageValues = PYARROW_V1_PAGE_VALUES): void {
  const fd = openSync(path, 'w')
  try {
    let offset = 0
    const write = (bytes: Uint8Array) => {
      writeSync(fd, bytes)
      offset += bytes.length
    }
    write(PAR1)
    for (let at = 0; at < data.length; at += pageValues) {
      const end = Math.min(data.length, at + pageValues)
      const repetition = Array.from({ length: end - at }, (_, i) => ((at + i) % dim === 0 ? 0 : 1))
      const body = [
        ...levels(repetition, 1),
        ...levels(new Array(end - at).fill(3), 2), // every value present: the maximum definition level
        new Uint8Array(data.slice(at, end).buffer),
      ]
      const length = body.reduce((n, part) => n + part.length, 0)
      const header = new ByteWriter()
      // DATA_PAGE; its sizes; num_values, PLAIN, RLE definition and repetition levels
      serializeTCompactProtocol(header, {
        field_1: 0,
        field_2: length,
        field_3: length,
        field_5: { field_1: end - at, field_2: 0, field_3: 3, field_4: 3 },
      })
      write(header.getBytes())
      for (const part of body) write(part)
    }
    const size = BigInt(offset - 4)
    const rows = BigInt(data.length / dim)
    const footer = new ByteWriter()
    writeMetadata(footer, {
      version: 2,
      schema: [
        { name: 'root', num_children: 1 },
        { name: 'embedding', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'FLOAT', repetition_type: 'OPTIONAL' },
      ],
      num_rows: rows,
      row_groups: [
        {
          columns: [
            {
              file_offset: 4n,
              meta_data: {
                type: 'FLOAT',
                encodings: ['PLAIN', 'RLE'],
                path_in_schema: ['embedding', 'list', 'element'],
                codec: 'UNCOMPRESSED',
                num_values: BigInt(data.length),
                total_uncompressed_size: size,
                total_compressed_size: size,
                data_page_offset: 4n,
              },
            },
          ],
          total_byte_size: size,
          num_rows: rows,
        },
      ],
      created_by: 'parquet-cpp-arrow version 20.0.0 (page layout as written by scripts/pyarrowLike.ts)',
      metadata_length: 0,
    })
    footer.appendUint32(footer.offset)
    write(footer.getBytes())
    write(PAR1)
  } finally {
    closeSync(fd)
  }
}

const PAR1 = new TextEncoder().encode('PAR1')

/** RLE/bit-packed levels, after their length, as a V1 page holds them. */
function levels(values: number[], width: number): [Uint8Array, Uint8Array] {
  const w = new ByteWriter()
  writeRleBitPackedHybrid(w, values, width)
  const bytes = w.getBytes()
  return [new Uint8Array(Uint32Array.of(bytes.length).buffer), bytes]
}
