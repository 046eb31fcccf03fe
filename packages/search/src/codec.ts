/**
 * Byte codecs for the serialized index: unsigned LEB128 varints (small numbers take one byte) and
 * base64, so a serialized index is a compact JSON-safe string.
 */

/** Appends `value` (a non-negative integer below 2^28) to `out` as a varint. */
export function writeVarint(out: ByteWriter, value: number): void {
  if (!(value >= 0 && value < 0x10000000)) throw new RangeError(`varint ${value} out of range`);
  let v = value;
  while (v >= 0x80) {
    out.byte((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.byte(v);
}

/** A growable byte buffer. */
export class ByteWriter {
  private buffer = new Uint8Array(1024);
  private length = 0;

  byte(value: number): void {
    if (this.length === this.buffer.length) {
      const next = new Uint8Array(this.buffer.length * 2);
      next.set(this.buffer);
      this.buffer = next;
    }
    this.buffer[this.length++] = value;
  }

  bytes(): Uint8Array {
    return this.buffer.subarray(0, this.length);
  }
}

/**
 * Decodes a whole stream of varints written by `writeVarint` in one tight loop. Throws
 * `RangeError` if the stream ends inside a varint or holds one longer than 5 bytes.
 */
export function readVarints(bytes: Uint8Array): Uint32Array {
  const length = bytes.length;
  let count = 0;
  for (let i = 0; i < length; i++) count += (bytes[i]! >>> 7) ^ 1;
  if (length > 0 && bytes[length - 1]! >= 0x80) throw new RangeError('varint stream ended early');
  const out = new Uint32Array(count);
  let at = 0;
  let value = 0;
  let shift = 0;
  for (let i = 0; i < length; i++) {
    const b = bytes[i]!;
    if (b < 0x80) {
      out[at++] = (value | (b << shift)) >>> 0;
      value = 0;
      shift = 0;
    } else {
      if (shift === 28) throw new RangeError('varint too long');
      value |= (b & 0x7f) << shift;
      shift += 7;
    }
  }
  return out;
}

interface NodeBuffer {
  from(data: ArrayBufferLike, offset?: number, length?: number): { toString(e: string): string };
  from(data: string, encoding: string): Uint8Array;
}

const NodeBuffer = (globalThis as { Buffer?: NodeBuffer }).Buffer;

export function toBase64(bytes: Uint8Array): string {
  if (NodeBuffer) return NodeBuffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/**
 * Decodes base64; throws `RangeError` when `text` is not a string of a base64 length. (Stray
 * characters are not searched for: the decoders that read the bytes check their structure.)
 */
export function fromBase64(text: string): Uint8Array {
  if (typeof text !== 'string' || text.length % 4 !== 0) throw new RangeError('not base64');
  if (NodeBuffer) {
    const view = NodeBuffer.from(text, 'base64');
    return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  }
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
