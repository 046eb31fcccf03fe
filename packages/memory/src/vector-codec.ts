/** A vector as base64 of its little-endian float32 bytes: compact and exact. */
export function encodeVector(vector: Float32Array): string {
  const copy = Float32Array.from(vector);
  return Buffer.from(copy.buffer, copy.byteOffset, copy.byteLength).toString('base64');
}

export function decodeVector(text: string): Float32Array {
  const bytes = Buffer.from(text, 'base64');
  const vector = new Float32Array(bytes.byteLength / 4);
  new Uint8Array(vector.buffer).set(bytes);
  return vector;
}
