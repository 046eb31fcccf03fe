import { ByteWriter, readVarints, writeVarint } from './codec.js';

/** The serialized form of a `VectorIndex`. */
export interface VectorIndexData {
  dimensions: number;
  /** Gaps between the slots that hold a vector (varints). */
  slots: Uint8Array;
  /** The unit vectors, float32 little-endian, in slot order. */
  vectors: Uint8Array;
}

/**
 * Exact cosine similarity over numbered slots: vectors are stored normalised to unit length in one
 * contiguous `Float32Array`, so a query is one dot product per stored vector.
 */
export class VectorIndex {
  private dims: number | undefined;
  private data = new Float32Array(0);
  private present = new Uint8Array(0);
  private count = 0;

  constructor(dimensions?: number) {
    this.dims = dimensions;
  }

  get dimensions(): number | undefined {
    return this.dims;
  }

  get size(): number {
    return this.count;
  }

  has(slot: number): boolean {
    return this.present[slot] === 1;
  }

  /**
   * Stores the unit vector of `vector` for a slot. The first vector fixes the dimensions; a
   * different length, or a value that is not finite, throws a `RangeError`.
   */
  set(slot: number, vector: ArrayLike<number>): void {
    this.setUnit(slot, this.normalise(vector));
  }

  /** Stores a vector that `normalise` returned; the first one fixes the dimensions. */
  setUnit(slot: number, unit: Float32Array): void {
    if (this.dims === undefined) this.dims = unit.length;
    if (unit.length !== this.dims) {
      throw new RangeError(`vector has ${unit.length} dimensions, the index holds ${this.dims}`);
    }
    const dims = this.dims;
    this.ensureSlot(slot);
    this.data.set(unit, slot * dims);
    if (this.present[slot] !== 1) {
      this.present[slot] = 1;
      this.count++;
    }
  }

  delete(slot: number): void {
    if (this.present[slot] !== 1) return;
    this.present[slot] = 0;
    this.count--;
  }

  /**
   * The unit vector of `vector` (all zeros for a zero vector). Throws a `RangeError` for an empty
   * vector, a value that is not finite, or a length other than the index's dimensions once fixed.
   */
  normalise(vector: ArrayLike<number>): Float32Array {
    if (vector.length === 0 || (this.dims !== undefined && vector.length !== this.dims)) {
      throw new RangeError(
        `vector has ${vector.length} dimensions, the index holds ${this.dims ?? 'any number'}`,
      );
    }
    let norm = 0;
    for (let i = 0; i < vector.length; i++) {
      const x = vector[i]!;
      if (typeof x !== 'number' || !Number.isFinite(x)) {
        throw new RangeError(`vector value ${i} is ${x}, not a finite number`);
      }
      norm += x * x;
    }
    const unit = new Float32Array(vector.length);
    if (norm === 0) return unit;
    const scale = 1 / Math.sqrt(norm);
    for (let i = 0; i < vector.length; i++) unit[i] = vector[i]! * scale;
    return unit;
  }

  /**
   * Calls `visit(slot, cosine)` for every stored vector, `query` being a unit vector from `normalise`.
   */
  forEachSimilarity(query: Float32Array, visit: (slot: number, cosine: number) => void): void {
    const dims = this.dims;
    if (dims === undefined || query.length !== dims) return;
    const data = this.data;
    const present = this.present;
    const tail = dims - (dims % 4);
    for (let slot = 0; slot < present.length; slot++) {
      if (present[slot] !== 1) continue;
      const offset = slot * dims;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let i = 0;
      for (; i < tail; i += 4) {
        s0 += data[offset + i]! * query[i]!;
        s1 += data[offset + i + 1]! * query[i + 1]!;
        s2 += data[offset + i + 2]! * query[i + 2]!;
        s3 += data[offset + i + 3]! * query[i + 3]!;
      }
      for (; i < dims; i++) s0 += data[offset + i]! * query[i]!;
      visit(slot, s0 + s1 + s2 + s3);
    }
  }

  serialize(slotMap: Int32Array, slotCount: number): VectorIndexData | undefined {
    const dims = this.dims;
    if (dims === undefined || this.count === 0) return undefined;
    const bySlot = new Int32Array(slotCount).fill(-1);
    for (let old = 0; old < this.present.length; old++) {
      const slot = slotMap[old] ?? -1;
      if (this.present[old] === 1 && slot >= 0) bySlot[slot] = old;
    }
    const slots = new ByteWriter();
    const vectors = new Float32Array(this.count * dims);
    let previous = -1;
    let row = 0;
    for (let slot = 0; slot < slotCount; slot++) {
      const old = bySlot[slot]!;
      if (old < 0) continue;
      writeVarint(slots, slot - previous - 1);
      previous = slot;
      vectors.set(this.data.subarray(old * dims, old * dims + dims), row * dims);
      row++;
    }
    return { dimensions: dims, slots: slots.bytes(), vectors: littleEndianBytes(vectors) };
  }

  /** Loads what `serialize` wrote into this (empty) index. Throws `RangeError` on malformed data. */
  load(data: VectorIndexData, slotCount: number): void {
    const dims = data.dimensions;
    if (!Number.isInteger(dims) || dims <= 0) throw new RangeError(`bad vector dimensions ${dims}`);
    this.dims = dims;
    const vectors = fromLittleEndian(data.vectors);
    if (vectors.length % dims !== 0) throw new RangeError('vector data is not a whole number of vectors');
    this.ensureSlot(slotCount - 1);
    let slot = -1;
    let row = 0;
    for (const gap of readVarints(data.slots)) {
      slot += gap + 1;
      if (slot >= slotCount) throw new RangeError('vector points past the last document');
      if ((row + 1) * dims > vectors.length) throw new RangeError('fewer vectors than slots');
      this.data.set(vectors.subarray(row * dims, row * dims + dims), slot * dims);
      this.present[slot] = 1;
      row++;
    }
    if (row * dims !== vectors.length) throw new RangeError('more vectors than slots');
    this.count = row;
  }

  private ensureSlot(slot: number): void {
    const dims = this.dims ?? 0;
    if (slot < this.present.length) return;
    let next = Math.max(16, this.present.length);
    while (next <= slot) next *= 2;
    const present = new Uint8Array(next);
    present.set(this.present);
    this.present = present;
    const data = new Float32Array(next * dims);
    data.set(this.data.subarray(0, Math.min(this.data.length, data.length)));
    this.data = data;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function littleEndianBytes(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

function fromLittleEndian(bytes: Uint8Array): Float32Array {
  if (bytes.length % 4 !== 0) throw new RangeError('vector data is not a whole number of floats');
  const out = new Float32Array(bytes.length / 4);
  if (LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(i * 4, true);
  return out;
}
