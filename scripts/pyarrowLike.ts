import { closeSync, openSync, writeSync } from 'node:fs'
import { ByteWriter } from 'hyparquet-writer'
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js'
import { writeMetadata } from 'hyparquet-writer/src/metadata.js'
import { snappyCompress } from 'hyparquet-writer/src/snappy.js'
import { serializeTCompactProtocol } from 'hyparquet-writer/src/thrift.js'
import { concatBytes } from '../src/io/source.js'

/**
 * Older pyarrow (parquet-cpp before it cut repeated columns at record boundaries; read from its
 * source, the version not pinned down here) cuts a list column's DataPage V1 pages only after a
 * batch of 1,024 values, once the page is past 1 MiB: 257 batches of float32.
 */
const PYARROW_V1_PAGE_VALUES = 257 * 1024

export interface V1SplitOptions {
  /** Values a page (the last, the rest). */
  pageValues?: number
  /**
   * The first this many pages dictionary-encoded (RLE_DICTIONARY, after one DICTIONARY_PAGE of
   * their distinct values), the rest PLAIN — pyarrow's default: it starts every column with a
   * dictionary and falls back to PLAIN once the dictionary passes 1 MiB (~260,000 floats).
   */
  dictionaryPages?: number
  /** Page compression (pyarrow's default: SNAPPY). */
  codec?: 'UNCOMPRESSED' | 'SNAPPY'
}

/**
 * Writes `path`: one list<float> column `embedding` (rows of `dim` values from `data`) as older
 * pyarrow wrote it by default — DataPage V1 pages cut every `pageValues` values, so most begin
 * inside a row; no offset index; one row group — with PLAIN values (or dictionary-encoded first
 * pages) and RLE levels, a page at a time. Built by hand: hyparquet-writer writes V2 pages, which
 * always begin at rows.
 */
export function writeV1SplitList(path: string, data: Float32Array, dim: number, o: V1SplitOptions = {}): void {
  const { pageValues = PYARROW_V1_PAGE_VALUES, dictionaryPages = 0, codec = 'UNCOMPRESSED' } = o
  const compress = (bytes: Uint8Array) => (codec === 'SNAPPY' ? snappyCompress(bytes) : bytes)
  const fd = openSync(path, 'w')
  try {
    let offset = 0
    let uncompressed = 0
    const write = (bytes: Uint8Array) => {
      writeSync(fd, bytes)
      offset += bytes.length
    }
    // a page: its header (type, sizes, and the header of its kind: thrift field `kind`), then its body compressed
    const page = (type: number, kind: number, pageHeader: object, body: Uint8Array) => {
      const compressed = compress(body)
      const header = new ByteWriter()
      serializeTCompactProtocol(header, { field_1: type, field_2: body.length, field_3: compressed.length, [`field_${kind}`]: pageHeader })
      write(header.getBytes())
      write(compressed)
      uncompressed += header.getBytes().length + body.length
    }
    write(PAR1)
    // the dictionary: the distinct values of the first pages (by their bits), in order of appearance
    const dictionaryEnd = Math.min(data.length, dictionaryPages * pageValues)
    const bits = new Uint32Array(data.buffer, data.byteOffset, data.length)
    const slot = new Map<number, number>()
    for (let i = 0; i < dictionaryEnd; i++) if (!slot.has(bits[i] as number)) slot.set(bits[i] as number, slot.size)
    const width = Math.max(1, Math.ceil(Math.log2(Math.max(2, slot.size))))
    if (slot.size) page(2, 7, { field_1: slot.size, field_2: 0 }, new Uint8Array(Uint32Array.from(slot.keys()).buffer))
    const dataPageOffset = offset
    for (let at = 0; at < data.length; at += pageValues) {
      const end = Math.min(data.length, at + pageValues)
      const repetition = Array.from({ length: end - at }, (_, i) => ((at + i) % dim === 0 ? 0 : 1))
      let values = new Uint8Array(data.slice(at, end).buffer)
      if (at < dictionaryEnd) {
        const indices = new ByteWriter()
        indices.appendUint8(width)
        writeRleBitPackedHybrid(
          indices,
          Array.from(bits.subarray(at, end), (b) => slot.get(b) as number),
          width,
        )
        values = indices.getBytes()
      }
      const body = concatBytes([
        ...levels(repetition, 1),
        ...levels(new Array(end - at).fill(3), 2), // every value present: the maximum definition level
        values,
      ])
      // DATA_PAGE: num_values, encoding (PLAIN 0, RLE_DICTIONARY 8), RLE definition and repetition levels
      page(0, 5, { field_1: end - at, field_2: at < dictionaryEnd ? 8 : 0, field_3: 3, field_4: 3 }, body)
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
                encodings: slot.size ? ['PLAIN', 'RLE', 'RLE_DICTIONARY'] : ['PLAIN', 'RLE'],
                path_in_schema: ['embedding', 'list', 'element'],
                codec,
                num_values: BigInt(data.length),
                total_uncompressed_size: BigInt(uncompressed),
                total_compressed_size: size,
                data_page_offset: BigInt(dataPageOffset),
                ...(slot.size ? { dictionary_page_offset: 4n } : {}),
              },
            },
          ],
          total_byte_size: BigInt(uncompressed),
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
