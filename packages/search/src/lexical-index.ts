import { ByteWriter, readVarints, writeVarint } from './codec.js';
import { PairTable } from './pair-table.js';

/** A text field of the lexical index with its BM25F parameters. */
export interface LexicalField {
  name: string;
  /** How much one occurrence in this field counts, relative to the others. */
  weight: number;
  /** Length normalisation of this field, 0 (none) to 1 (full). */
  b: number;
}

/** A query term with its weight; a word pair is the two terms joined by one space. */
export interface WeightedTerm {
  term: string;
  weight: number;
}

/** The serialized form of a `LexicalIndex` (the caller base64-encodes the bytes). */
export interface LexicalIndexData {
  terms: string[];
  /** Per word pair, the indexes of its two words in `terms` (varints). */
  pairs: Uint8Array;
  /** Per slot and field: the field's length in words (varints). */
  lengths: Uint8Array;
  /** Per term, then per pair: posting count, then per posting the slot gap and the field frequencies (varints). */
  postings: Uint8Array;
}

/** Most distinct terms (words and pairs) an index holds. */
const MAX_TERMS = 2 ** 31 - 1;
const NO_SLOT = -1;

/**
 * A BM25F inverted index over numbered document slots (the caller maps ids to slots). Every term
 * (word, or pair of adjacent words) has a posting list in one shared arena of typed arrays, so there
 * is no object per term; a forward index (terms per slot) serves removal and query feedback.
 */
export class LexicalIndex {
  readonly fields: readonly LexicalField[];
  private readonly fieldCount: number;

  private readonly wordIds = new Map<string, number>();
  private readonly pairIds = new PairTable();
  /** Per term id: the word, or undefined for a pair. */
  private words: (string | undefined)[] = [];
  /** Per pair term id: its two word ids. */
  private pairFirst = new Int32Array(64);
  private pairSecond = new Int32Array(64);
  private termCount = 0;

  /** Per term id: where its postings start in the arena, how many, and room for how many. */
  private postStart = new Int32Array(64);
  private postCount = new Int32Array(64);
  private postCapacity = new Int32Array(64);
  private arenaSlots = new Int32Array(1024);
  /** `fieldCount` frequencies per posting. */
  private arenaTfs: Uint16Array;
  private arenaUsed = 0;
  private arenaGarbage = 0;

  /** Per slot and field, the length in words; -1 marks an empty slot. */
  private lengths = new Float64Array(0);
  private readonly totalLength: Float64Array;
  private docCount = 0;

  /** Per slot, its term ids and their field frequencies; built lazily after loading. */
  private forwardIds: (Int32Array | undefined)[] = [];
  private forwardTfs: (Uint16Array | undefined)[] = [];
  private forwardReady = true;

  /** Scratch for `add`: per term id, the add call that last saw it and its position there. */
  private seenIn = new Int32Array(64).fill(NO_SLOT);
  private addCount = 0;
  private seenAt = new Int32Array(64);

  private scores = new Float64Array(0);
  private touched = new Int32Array(0);

  constructor(fields: readonly LexicalField[]) {
    this.fields = fields;
    this.fieldCount = fields.length;
    this.totalLength = new Float64Array(fields.length);
    this.arenaTfs = new Uint16Array(this.arenaSlots.length * fields.length);
  }

  get size(): number {
    return this.docCount;
  }

  /**
   * Indexes a slot from its words, one array per field (in field order). The slot must be empty.
   * With `pairs`, each two adjacent words of a field are indexed as a pair term too (not counted in
   * the field's length).
   */
  add(slot: number, fieldTokens: readonly (readonly string[])[], pairs: boolean): void {
    const F = this.fieldCount;
    this.ensureSlot(slot);
    const ids: number[] = [];
    const tfs: number[] = [];
    const call = this.addCount++ % 0x7fffffff;
    const count = (id: number, f: number): void => {
      if (this.seenIn[id] !== call) {
        this.seenIn[id] = call;
        this.seenAt[id] = ids.length;
        ids.push(id);
        for (let g = 0; g < F; g++) tfs.push(0);
      }
      const at = this.seenAt[id]! * F + f;
      if (tfs[at]! < 0xffff) tfs[at]!++;
    };
    for (let f = 0; f < F; f++) {
      const tokens = fieldTokens[f] ?? [];
      this.lengths[slot * F + f] = tokens.length;
      this.totalLength[f]! += tokens.length;
      let previous = -1;
      for (const token of tokens) {
        const id = this.wordId(token, true);
        count(id, f);
        if (pairs && previous >= 0) count(this.pairId(previous, id, true), f);
        previous = id;
      }
    }
    const forwardIds = Int32Array.from(ids);
    const forwardTfs = Uint16Array.from(tfs);
    for (let i = 0; i < forwardIds.length; i++) this.pushPosting(forwardIds[i]!, slot, forwardTfs, i * F);
    if (this.forwardReady) {
      this.forwardIds[slot] = forwardIds;
      this.forwardTfs[slot] = forwardTfs;
    }
    this.docCount++;
  }

  /** Removes a slot's postings. */
  remove(slot: number): void {
    const F = this.fieldCount;
    if (slot >= this.lengths.length / F || this.lengths[slot * F]! < 0) return;
    this.buildForward();
    const ids = this.forwardIds[slot] ?? new Int32Array(0);
    for (const id of ids) {
      const start = this.postStart[id]!;
      const last = this.postCount[id]! - 1;
      const at = this.arenaSlots.subarray(start, start + last + 1).indexOf(slot);
      if (at < 0) continue;
      this.arenaSlots[start + at] = this.arenaSlots[start + last]!;
      this.arenaTfs.copyWithin((start + at) * F, (start + last) * F, (start + last) * F + F);
      this.postCount[id] = last;
    }
    for (let f = 0; f < F; f++) {
      this.totalLength[f]! -= this.lengths[slot * F + f]!;
      this.lengths[slot * F + f] = -1;
    }
    this.forwardIds[slot] = undefined;
    this.forwardTfs[slot] = undefined;
    this.docCount--;
  }

  /** Document frequency of a word or a word pair ("a b"); 0 when unknown. */
  docFrequency(term: string): number {
    const id = this.lookup(term);
    return id < 0 ? 0 : this.postCount[id]!;
  }

  /** BM25 inverse document frequency `ln(1 + (N − df + 0.5) / (df + 0.5))`, always positive. */
  idf(term: string): number {
    const df = this.docFrequency(term);
    return Math.log(1 + (this.docCount - df + 0.5) / (df + 0.5));
  }

  /**
   * Scores every slot holding a query term with BM25F:
   * `Σ_t w_t · idf_t · tf'_t / (k1 + tf'_t)`, `tf'_t = Σ_f weight_f · tf_{t,f} / (1 − b_f + b_f · len_f / avglen_f)`.
   * Returns the touched slots and a score array indexed by slot, valid until `reset`.
   */
  score(terms: readonly WeightedTerm[], k1: number): { slots: Int32Array; scores: Float64Array } {
    const F = this.fieldCount;
    const capacity = this.lengths.length / F;
    if (this.scores.length < capacity) {
      this.scores = new Float64Array(capacity);
      this.touched = new Int32Array(capacity);
    }
    const { scores, touched, lengths, arenaSlots, arenaTfs } = this;
    let touchedCount = 0;
    const base = new Float64Array(F);
    const slope = new Float64Array(F);
    const weight = new Float64Array(F);
    for (let f = 0; f < F; f++) {
      const field = this.fields[f]!;
      const avg = this.docCount > 0 ? this.totalLength[f]! / this.docCount : 0;
      base[f] = 1 - field.b;
      slope[f] = avg > 0 ? field.b / avg : 0;
      weight[f] = field.weight;
    }
    for (const { term, weight: queryWeight } of terms) {
      const id = this.lookup(term);
      if (id < 0) continue;
      const n = this.postCount[id]!;
      if (n === 0) continue;
      const factor = queryWeight * Math.log(1 + (this.docCount - n + 0.5) / (n + 0.5));
      const start = this.postStart[id]!;
      for (let i = start; i < start + n; i++) {
        const slot = arenaSlots[i]!;
        let tf = 0;
        if (F === 1) {
          tf = (weight[0]! * arenaTfs[i]!) / (base[0]! + slope[0]! * lengths[slot]!);
        } else {
          for (let f = 0; f < F; f++) {
            const t = arenaTfs[i * F + f]!;
            if (t !== 0) tf += (weight[f]! * t) / (base[f]! + slope[f]! * lengths[slot * F + f]!);
          }
        }
        if (tf === 0) continue;
        if (scores[slot] === 0) touched[touchedCount++] = slot;
        scores[slot]! += (factor * tf) / (k1 + tf);
      }
    }
    return { slots: touched.subarray(0, touchedCount), scores };
  }

  /** Clears the scores left by `score` for the given slots. */
  reset(slots: Int32Array): void {
    for (const slot of slots) this.scores[slot] = 0;
  }

  /**
   * The slot's words (pairs left out) with their field-weighted frequency divided by the
   * field-weighted length, for query feedback.
   */
  wordVector(slot: number): { term: string; frequency: number }[] {
    this.buildForward();
    const F = this.fieldCount;
    const ids = this.forwardIds[slot];
    const tfs = this.forwardTfs[slot];
    if (!ids || !tfs) return [];
    let length = 0;
    for (let f = 0; f < F; f++) length += this.fields[f]!.weight * Math.max(0, this.lengths[slot * F + f]!);
    if (length === 0) return [];
    const out: { term: string; frequency: number }[] = [];
    for (let i = 0; i < ids.length; i++) {
      const word = this.words[ids[i]!];
      if (word === undefined) continue;
      let tf = 0;
      for (let f = 0; f < F; f++) tf += this.fields[f]!.weight * tfs[i * F + f]!;
      out.push({ term: word, frequency: tf / length });
    }
    return out;
  }

  /** Serializes the index; `slotMap` renumbers slots (old slot → new slot, -1 for none). */
  serialize(slotMap: Int32Array, slotCount: number): LexicalIndexData {
    const F = this.fieldCount;
    const lengths = new ByteWriter();
    const newLengths = new Int32Array(slotCount * F);
    const oldCapacity = this.lengths.length / F;
    for (let old = 0; old < oldCapacity; old++) {
      const slot = slotMap[old] ?? -1;
      if (slot < 0) continue;
      for (let f = 0; f < F; f++) newLengths[slot * F + f] = this.lengths[old * F + f]!;
    }
    for (const length of newLengths) writeVarint(lengths, length);

    const terms: string[] = [];
    const wordIndex = new Int32Array(this.termCount).fill(-1);
    const pairs = new ByteWriter();
    const postings = new ByteWriter();
    const order: number[] = [];
    const writePostings = (id: number): void => {
      const n = this.postCount[id]!;
      const start = this.postStart[id]!;
      order.length = 0;
      for (let i = start; i < start + n; i++) order.push(i);
      order.sort((a, c) => slotMap[this.arenaSlots[a]!]! - slotMap[this.arenaSlots[c]!]!);
      writeVarint(postings, n);
      let previous = -1;
      for (const i of order) {
        const slot = slotMap[this.arenaSlots[i]!]!;
        writeVarint(postings, slot - previous - 1);
        previous = slot;
        for (let f = 0; f < F; f++) writeVarint(postings, this.arenaTfs[i * F + f]!);
      }
    };
    for (let id = 0; id < this.termCount; id++) {
      const word = this.words[id];
      if (word === undefined || this.postCount[id] === 0) continue;
      wordIndex[id] = terms.length;
      terms.push(word);
      writePostings(id);
    }
    for (let id = 0; id < this.termCount; id++) {
      if (this.words[id] !== undefined || this.postCount[id] === 0) continue;
      writeVarint(pairs, wordIndex[this.pairFirst[id]!]!);
      writeVarint(pairs, wordIndex[this.pairSecond[id]!]!);
      writePostings(id);
    }
    return { terms, pairs: pairs.bytes(), lengths: lengths.bytes(), postings: postings.bytes() };
  }

  /** Loads what `serialize` wrote into this (empty) index. Throws `RangeError` on malformed data. */
  load(data: LexicalIndexData, slotCount: number): void {
    const F = this.fieldCount;
    this.ensureSlot(slotCount - 1);
    const lengths = readVarints(data.lengths);
    if (lengths.length !== slotCount * F) throw new RangeError('field lengths do not match the documents');
    for (let i = 0; i < lengths.length; i++) {
      this.lengths[i] = lengths[i]!;
      this.totalLength[i % F]! += lengths[i]!;
    }
    this.docCount = slotCount;

    const pairs = readVarints(data.pairs);
    if (pairs.length % 2 !== 0) throw new RangeError('word pairs are not pairs');
    const termTotal = data.terms.length + pairs.length / 2;
    const values = readVarints(data.postings);
    // First pass: check the layout and count the postings, so the arena is allocated once.
    let total = 0;
    let at = 0;
    for (let t = 0; t < termTotal; t++) {
      const n = values[at];
      if (n === undefined || n > slotCount) throw new RangeError('bad posting count');
      total += n;
      at += 1 + n * (1 + F);
    }
    if (at !== values.length) throw new RangeError('postings do not match the terms');
    this.growArena(total);
    this.growTerms(termTotal);
    this.pairIds.reserve(pairs.length / 2);

    if (this.words.length < termTotal) this.words.length = termTotal;
    const slots = this.arenaSlots;
    const tfs = this.arenaTfs;
    at = 0;
    let used = 0;
    for (let t = 0; t < termTotal; t++) {
      let id: number;
      if (t < data.terms.length) {
        const term = data.terms[t];
        if (typeof term !== 'string' || this.wordIds.has(term))
          throw new RangeError(`bad or repeated term "${term}"`);
        id = this.wordId(term, true);
      } else {
        const first = pairs[2 * (t - data.terms.length)]!;
        const second = pairs[2 * (t - data.terms.length) + 1]!;
        if (first >= data.terms.length || second >= data.terms.length)
          throw new RangeError('pair of unknown words');
        if (this.pairIds.get(first, second) >= 0) throw new RangeError('repeated word pair');
        id = this.pairId(first, second, true);
      }
      const n = values[at++]!;
      this.postStart[id] = used;
      this.postCount[id] = n;
      this.postCapacity[id] = n;
      let slot = -1;
      const end = used + n;
      for (let i = used; i < end; i++) {
        slot += values[at++]! + 1;
        slots[i] = slot;
        if (F === 1) tfs[i] = values[at++]!;
        else for (let f = 0; f < F; f++) tfs[i * F + f] = values[at++]!;
      }
      if (slot >= slotCount) throw new RangeError('posting points past the last document');
      used = end;
    }
    this.arenaUsed = used;
    this.forwardIds = [];
    this.forwardTfs = [];
    this.forwardReady = false;
  }

  /** The term id of a word or of a pair "a b", or -1. */
  private lookup(term: string): number {
    const space = term.indexOf(' ');
    if (space < 0) return this.wordIds.get(term) ?? -1;
    const first = this.wordIds.get(term.slice(0, space));
    const second = this.wordIds.get(term.slice(space + 1));
    if (first === undefined || second === undefined) return -1;
    return this.pairIds.get(first, second);
  }

  private wordId(word: string, create: boolean): number {
    let id = this.wordIds.get(word);
    if (id === undefined && create) {
      id = this.newTerm(word);
      this.wordIds.set(word, id);
    }
    return id ?? -1;
  }

  private pairId(first: number, second: number, create: boolean): number {
    let id = this.pairIds.get(first, second);
    if (id < 0 && create) {
      id = this.newTerm(undefined);
      this.pairIds.set(first, second, id);
      this.pairFirst[id] = first;
      this.pairSecond[id] = second;
    }
    return id;
  }

  private newTerm(word: string | undefined): number {
    const id = this.termCount++;
    if (id >= MAX_TERMS) throw new RangeError('too many distinct terms');
    if (id >= this.postStart.length) this.growTerms(this.postStart.length * 2);
    this.words[id] = word;
    this.postStart[id] = 0;
    this.postCount[id] = 0;
    this.postCapacity[id] = 0;
    return id;
  }

  /** Makes room for `size` terms in the per-term arrays. */
  private growTerms(size: number): void {
    if (size <= this.postStart.length) return;
    this.postStart = grow(this.postStart, size);
    this.postCount = grow(this.postCount, size);
    this.postCapacity = grow(this.postCapacity, size);
    this.pairFirst = grow(this.pairFirst, size);
    this.pairSecond = grow(this.pairSecond, size);
    this.seenAt = grow(this.seenAt, size);
    const seenIn = new Int32Array(size).fill(NO_SLOT);
    seenIn.set(this.seenIn);
    this.seenIn = seenIn;
  }

  /** Makes room for `needed` postings of a term: in place when its list ends the arena, else moved there. */
  private reserve(id: number, needed: number): void {
    const capacity = this.postCapacity[id]!;
    if (needed <= capacity) return;
    const F = this.fieldCount;
    const next = Math.max(needed, capacity < 2 ? 2 : capacity * 2);
    if (capacity > 0 && this.postStart[id]! + capacity === this.arenaUsed) {
      this.growArena(this.arenaUsed + next - capacity);
      this.arenaUsed += next - capacity;
      this.postCapacity[id] = next;
      return;
    }
    if (this.arenaUsed + next > this.arenaSlots.length && this.arenaGarbage > this.arenaUsed / 4)
      this.compact();
    this.growArena(this.arenaUsed + next);
    const from = this.postStart[id]!;
    const n = this.postCount[id]!;
    const to = this.arenaUsed;
    this.arenaSlots.copyWithin(to, from, from + n);
    this.arenaTfs.copyWithin(to * F, from * F, (from + n) * F);
    this.arenaGarbage += this.postCapacity[id]!;
    this.postStart[id] = to;
    this.postCapacity[id] = next;
    this.arenaUsed += next;
  }

  private growArena(needed: number): void {
    let size = this.arenaSlots.length;
    while (size < needed) size *= 2;
    if (size === this.arenaSlots.length) return;
    this.arenaSlots = grow(this.arenaSlots, size);
    const tfs = new Uint16Array(size * this.fieldCount);
    tfs.set(this.arenaTfs);
    this.arenaTfs = tfs;
  }

  /** Packs every posting list to the front of the arena, dropping space left by moved lists. */
  private compact(): void {
    const F = this.fieldCount;
    const slots = new Int32Array(this.arenaSlots.length);
    const tfs = new Uint16Array(this.arenaTfs.length);
    let used = 0;
    for (let id = 0; id < this.termCount; id++) {
      const start = this.postStart[id]!;
      const n = this.postCount[id]!;
      slots.set(this.arenaSlots.subarray(start, start + n), used);
      tfs.set(this.arenaTfs.subarray(start * F, (start + n) * F), used * F);
      this.postStart[id] = used;
      this.postCapacity[id] = n;
      used += n;
    }
    this.arenaSlots = slots;
    this.arenaTfs = tfs;
    this.arenaUsed = used;
    this.arenaGarbage = 0;
  }

  private pushPosting(id: number, slot: number, tfs: Uint16Array, offset: number): void {
    const F = this.fieldCount;
    const n = this.postCount[id]!;
    if (n === this.postCapacity[id]) this.reserve(id, n + 1);
    const at = this.postStart[id]! + n;
    this.arenaSlots[at] = slot;
    for (let f = 0; f < F; f++) this.arenaTfs[at * F + f] = tfs[offset + f]!;
    this.postCount[id] = n + 1;
  }

  /** Inverts the postings into the terms of each slot: two arrays in all, viewed per slot. */
  private buildForward(): void {
    if (this.forwardReady) return;
    const F = this.fieldCount;
    const capacity = this.lengths.length / F;
    const { arenaSlots, arenaTfs, postStart, postCount } = this;
    const offsets = new Int32Array(capacity + 1);
    for (let id = 0; id < this.termCount; id++) {
      const start = postStart[id]!;
      const end = start + postCount[id]!;
      for (let i = start; i < end; i++) offsets[arenaSlots[i]! + 1]!++;
    }
    for (let slot = 0; slot < capacity; slot++) offsets[slot + 1]! += offsets[slot]!;
    const ids = new Int32Array(offsets[capacity]!);
    const tfs = new Uint16Array(ids.length * F);
    const fill = offsets.slice(0, capacity);
    for (let id = 0; id < this.termCount; id++) {
      const start = postStart[id]!;
      const end = start + postCount[id]!;
      for (let i = start; i < end; i++) {
        const at = fill[arenaSlots[i]!]!++;
        ids[at] = id;
        for (let f = 0; f < F; f++) tfs[at * F + f] = arenaTfs[i * F + f]!;
      }
    }
    this.forwardIds = new Array(capacity);
    this.forwardTfs = new Array(capacity);
    for (let slot = 0; slot < capacity; slot++) {
      if (this.lengths[slot * F]! < 0) continue;
      this.forwardIds[slot] = ids.subarray(offsets[slot]!, offsets[slot + 1]!);
      this.forwardTfs[slot] = tfs.subarray(offsets[slot]! * F, offsets[slot + 1]! * F);
    }
    this.forwardReady = true;
  }

  private ensureSlot(slot: number): void {
    const F = this.fieldCount;
    const capacity = this.lengths.length / F;
    if (slot < capacity) return;
    let next = Math.max(16, capacity);
    while (next <= slot) next *= 2;
    const grown = new Float64Array(next * F).fill(-1);
    grown.set(this.lengths);
    this.lengths = grown;
  }
}

function grow(array: Int32Array, size: number): Int32Array<ArrayBuffer> {
  const grown = new Int32Array(size);
  grown.set(array);
  return grown;
}
