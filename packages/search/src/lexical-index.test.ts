import { describe, expect, it } from 'vitest';
import { type LexicalField, LexicalIndex, type WeightedTerm } from './lexical-index.js';

const FIELDS: LexicalField[] = [
  { name: 'title', weight: 2, b: 0.5 },
  { name: 'text', weight: 1, b: 0.75 },
];

/** BM25F computed the slow, obvious way, from the documents themselves. */
function referenceScores(
  docs: Map<number, string[][]>,
  terms: WeightedTerm[],
  k1: number,
  fields: LexicalField[],
): Map<number, number> {
  const n = docs.size;
  const avg = fields.map((_, f) => {
    let total = 0;
    for (const tokens of docs.values()) total += tokens[f]!.length;
    return total / n;
  });
  const scores = new Map<number, number>();
  for (const { term, weight } of terms) {
    const [first, second] = term.split(' ');
    const occurrences = (tokens: string[]): number => {
      let count = 0;
      for (let i = 0; i < tokens.length; i++) {
        if (second === undefined ? tokens[i] === first : tokens[i] === first && tokens[i + 1] === second)
          count++;
      }
      return count;
    };
    let df = 0;
    for (const tokens of docs.values()) if (tokens.some((t) => occurrences(t) > 0)) df++;
    if (df === 0) continue;
    const idf = Math.log(1 + (n - df + 0.5) / (df + 0.5));
    for (const [slot, tokens] of docs) {
      let tf = 0;
      fields.forEach((field, f) => {
        const count = occurrences(tokens[f]!);
        if (count > 0) tf += (field.weight * count) / (1 - field.b + (field.b * tokens[f]!.length) / avg[f]!);
      });
      if (tf > 0) scores.set(slot, (scores.get(slot) ?? 0) + (weight * idf * tf) / (k1 + tf));
    }
  }
  return scores;
}

function actualScores(index: LexicalIndex, terms: WeightedTerm[], k1: number): Map<number, number> {
  const { slots, scores } = index.score(terms, k1);
  const out = new Map<number, number>();
  for (const slot of slots) out.set(slot, scores[slot]!);
  index.reset(slots);
  return out;
}

function expectSameScores(actual: Map<number, number>, expected: Map<number, number>): void {
  expect([...actual.keys()].sort((a, b) => a - b)).toEqual([...expected.keys()].sort((a, b) => a - b));
  for (const [slot, score] of expected) expect(actual.get(slot)).toBeCloseTo(score, 10);
}

const WORDS = ['wing', 'flow', 'shock', 'layer', 'heat', 'plate', 'mach', 'drag', 'lift', 'cone'];

function randomDocs(count: number, seed: number): Map<number, string[][]> {
  let state = seed;
  const random = (): number => {
    state = (state * 16_807) % 2_147_483_647;
    return state / 2_147_483_647;
  };
  const pick = (length: number): string[] =>
    Array.from({ length }, () => WORDS[Math.floor(random() * random() * WORDS.length)]!);
  const docs = new Map<number, string[][]>();
  for (let slot = 0; slot < count; slot++)
    docs.set(slot, [pick(Math.floor(random() * 4)), pick(1 + Math.floor(random() * 30))]);
  return docs;
}

const QUERY: WeightedTerm[] = [
  { term: 'wing', weight: 1 },
  { term: 'cone', weight: 2 },
  { term: 'shock layer', weight: 0.3 },
  { term: 'heat plate', weight: 0.5 },
  { term: 'unknown', weight: 1 },
];

describe('LexicalIndex', () => {
  it('scores with BM25F, word pairs included', () => {
    const docs = randomDocs(200, 1);
    const index = new LexicalIndex(FIELDS);
    for (const [slot, tokens] of docs) index.add(slot, tokens, true);
    expectSameScores(actualScores(index, QUERY, 1.2), referenceScores(docs, QUERY, 1.2, FIELDS));
    expect(index.size).toBe(200);
  });

  it('after removals and slot reuse scores as an index built from the survivors', () => {
    const docs = randomDocs(300, 2);
    const index = new LexicalIndex(FIELDS);
    for (const [slot, tokens] of docs) index.add(slot, tokens, true);
    for (let slot = 0; slot < 300; slot += 3) {
      index.remove(slot);
      docs.delete(slot);
    }
    const reused = randomDocs(50, 3);
    for (const [i, tokens] of reused) {
      index.add(i * 3, tokens, true);
      docs.set(i * 3, tokens);
    }
    index.remove(9999); // unknown slot: nothing happens
    expect(index.size).toBe(docs.size);
    expectSameScores(actualScores(index, QUERY, 0.9), referenceScores(docs, QUERY, 0.9, FIELDS));
  });

  it('serializes and loads to the same scores, with slots renumbered', () => {
    const docs = randomDocs(120, 4);
    const index = new LexicalIndex(FIELDS);
    for (const [slot, tokens] of docs) index.add(slot, tokens, true);
    for (let slot = 0; slot < 120; slot += 2) index.remove(slot);
    // Keep the odd slots, renumbered 0, 1, 2, ...
    const slotMap = new Int32Array(120).fill(-1);
    const renumbered = new Map<number, string[][]>();
    for (let slot = 1; slot < 120; slot += 2) {
      slotMap[slot] = (slot - 1) / 2;
      renumbered.set((slot - 1) / 2, docs.get(slot)!);
    }
    const loaded = new LexicalIndex(FIELDS);
    loaded.load(index.serialize(slotMap, 60), 60);
    expect(loaded.size).toBe(60);
    expectSameScores(actualScores(loaded, QUERY, 1.2), referenceScores(renumbered, QUERY, 1.2, FIELDS));
    // The loaded index stays writable: removal needs the forward index it rebuilds lazily.
    loaded.remove(0);
    renumbered.delete(0);
    loaded.add(60, [['wing'], ['cone', 'cone']], true);
    renumbered.set(60, [['wing'], ['cone', 'cone']]);
    expectSameScores(actualScores(loaded, QUERY, 1.2), referenceScores(renumbered, QUERY, 1.2, FIELDS));
  });

  it('refuses malformed serialized data', () => {
    const index = new LexicalIndex(FIELDS);
    index.add(0, [['wing'], ['flow', 'flow']], true);
    const data = index.serialize(Int32Array.of(0), 1);
    expect(() => new LexicalIndex(FIELDS).load({ ...data, lengths: Uint8Array.of(1) }, 1)).toThrow(
      RangeError,
    );
    expect(() => new LexicalIndex(FIELDS).load({ ...data, postings: data.postings.subarray(1) }, 1)).toThrow(
      RangeError,
    );
    expect(() => new LexicalIndex(FIELDS).load({ ...data, terms: ['wing', 'wing', 'flow'] }, 1)).toThrow(
      RangeError,
    );
    expect(() => new LexicalIndex(FIELDS).load({ ...data, pairs: Uint8Array.of(5, 0) }, 1)).toThrow(
      RangeError,
    );
  });

  it('gives document frequencies, idf and weighted word frequencies', () => {
    const index = new LexicalIndex(FIELDS);
    index.add(0, [['wing'], ['wing', 'flow']], true);
    index.add(1, [[], ['flow']], true);
    expect(index.docFrequency('wing')).toBe(1);
    expect(index.docFrequency('flow')).toBe(2);
    expect(index.docFrequency('wing flow')).toBe(1);
    expect(index.docFrequency('flow wing')).toBe(0);
    expect(index.idf('wing')).toBeCloseTo(Math.log(1 + 1.5 / 1.5), 12);
    // title weight 2: length = 2·1 + 1·2 = 4; wing = 2·1 + 1 = 3, flow = 1
    expect(index.wordVector(0)).toEqual([
      { term: 'wing', frequency: 3 / 4 },
      { term: 'flow', frequency: 1 / 4 },
    ]);
  });

  it('grows its arena and term tables past their first sizes', () => {
    const index = new LexicalIndex([{ name: 'text', weight: 1, b: 0.75 }]);
    const docs = new Map<number, string[][]>();
    for (let slot = 0; slot < 3000; slot++) {
      const tokens = [`w${slot % 700}`, `w${(slot * 7) % 900}`, 'common', `u${slot}`];
      docs.set(slot, [tokens]);
      index.add(slot, [tokens], true);
    }
    for (let slot = 0; slot < 3000; slot += 2) {
      index.remove(slot);
      docs.delete(slot);
    }
    const query = [
      { term: 'common', weight: 1 },
      { term: 'w7', weight: 1 },
      { term: 'u2999', weight: 1 },
    ];
    expectSameScores(
      actualScores(index, query, 1.2),
      referenceScores(docs, query, 1.2, [{ name: 'text', weight: 1, b: 0.75 }]),
    );
  });
});
