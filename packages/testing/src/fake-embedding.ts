const WORD = /[\p{L}\p{N}]+/gu;

/** Lowercase word tokens of `text` (letters and digits of any script). */
export function fakeTokens(text: string): string[] {
  return text.toLowerCase().match(WORD) ?? [];
}

/** FNV-1a, 32 bits, over the UTF-16 code units of `text`. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * A deterministic embedding: a hashed bag of lowercase words, `dimensions` long, L2-normalised.
 * Every component is >= 0, so the cosine of two such vectors is in [0, 1] and texts that share words
 * are closer than texts that share none (up to hash collisions). A text without words maps to a fixed
 * unit vector.
 */
export function fakeEmbedding(text: string, dimensions: number): Float32Array {
  const vector = new Float32Array(dimensions);
  const tokens = fakeTokens(text);
  if (tokens.length === 0) tokens.push('');
  for (const token of tokens) {
    const slot = fnv1a(token) % dimensions;
    vector[slot] = (vector[slot] ?? 0) + 1;
  }
  let norm = 0;
  for (const value of vector) norm += value * value;
  norm = Math.sqrt(norm);
  for (let i = 0; i < dimensions; i++) vector[i] = (vector[i] ?? 0) / norm;
  return vector;
}

/** Base64 of the little-endian float32 bytes of `vector`, as OpenAI answers `encoding_format: 'base64'`. */
export function float32ToBase64(vector: Float32Array): string {
  const bytes = new Uint8Array(vector.length * 4);
  const view = new DataView(bytes.buffer);
  vector.forEach((value, i) => {
    view.setFloat32(i * 4, value, true);
  });
  return Buffer.from(bytes).toString('base64');
}
