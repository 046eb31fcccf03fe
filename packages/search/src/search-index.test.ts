import { SessionsError } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import { SearchIndex, type SearchResult } from './search-index.js';

const PAPERS = [
  {
    id: 'p1',
    title: 'Boundary layer transition',
    text: 'Transition of the laminar boundary layer on a flat plate.',
  },
  {
    id: 'p2',
    title: 'Shock waves',
    text: 'Interaction of a shock wave with the boundary layer near a wedge.',
  },
  {
    id: 'p3',
    title: 'Heat transfer at hypersonic speeds',
    text: 'Heat transfer to a blunt body in hypersonic flow.',
  },
  {
    id: 'p4',
    title: 'Layer of paint',
    text: 'The boundary of the painted area and a thin layer of lacquer.',
  },
  { id: 'p5', title: 'Slender wings', text: 'Lift and drag of slender delta wings at supersonic speeds.' },
  { id: 'p6', title: 'Wing flutter', text: 'Flutter of a swept wing: an experimental study of the flow.' },
];

function papers(options: ConstructorParameters<typeof SearchIndex>[0] = {}): SearchIndex {
  const index = new SearchIndex({ fields: { title: 2, text: 1 }, ...options });
  index.addAll(PAPERS);
  return index;
}

function expectError(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(SessionsError.is(caught)).toBe(true);
  expect((caught as SessionsError).code).toBe(code);
}

const ids = (results: SearchResult[]): string[] => results.map((r) => r.id);

describe('SearchIndex documents', () => {
  it('adds, replaces, removes and clears documents', () => {
    const index = papers();
    expect(index.size).toBe(6);
    expect(index.has('p3')).toBe(true);
    expect(index.ids().sort()).toEqual(['p1', 'p2', 'p3', 'p4', 'p5', 'p6']);
    expect(index.fields).toEqual(['title', 'text']);

    index.add({ id: 'p3', title: 'Something else', text: 'About rockets only.' });
    expect(index.size).toBe(6);
    expect(ids(index.search('hypersonic heat'))).toEqual([]);
    expect(ids(index.search('rockets'))).toEqual(['p3']);

    expect(index.remove('p3')).toBe(true);
    expect(index.remove('p3')).toBe(false);
    expect(index.has('p3')).toBe(false);
    expect(index.size).toBe(5);
    expect(ids(index.search('rockets'))).toEqual([]);

    index.clear();
    expect(index.size).toBe(0);
    expect(index.search('boundary layer')).toEqual([]);
    index.add({ id: 'again', text: 'boundary layer' });
    expect(ids(index.search('boundary'))).toEqual(['again']);
  });

  it('ignores fields it does not index, and reads arrays of strings and numbers', () => {
    const index = new SearchIndex();
    index.add({ id: 'a', text: ['first part', 'second part'], source: 'ignored words here' });
    index.add({ id: 'b', text: 2023 });
    expect(ids(index.search('second'))).toEqual(['a']);
    expect(ids(index.search('ignored'))).toEqual([]);
    expect(ids(index.search('2023'))).toEqual(['b']);
  });

  it('refuses documents without an id, with non-text fields or bad vectors, and reserved field names', () => {
    const index = new SearchIndex();
    expectError(() => index.add({ id: '' }), 'invalid_input');
    expectError(() => index.add({ text: 'x' } as never), 'invalid_input');
    expectError(() => index.add({ id: 'a', text: { nested: true } }), 'invalid_input');
    expectError(
      () => index.add({ id: 'a', text: 'x', vector: [1, Number.POSITIVE_INFINITY] }),
      'invalid_input',
    );
    index.add({ id: 'a', text: 'x', vector: [1, 0] });
    expectError(() => index.add({ id: 'b', text: 'x', vector: [1, 0, 0] }), 'invalid_input');
    expect(index.size).toBe(1);
    expectError(() => new SearchIndex({ fields: ['id'] }), 'invalid_input');
    expectError(() => new SearchIndex({ fields: [] }), 'invalid_input');
    expectError(() => new SearchIndex({ fields: { text: -1 } }), 'invalid_input');
    expectError(() => new SearchIndex({ k1: -1 }), 'invalid_input');
    expectError(() => new SearchIndex({ b: 2 }), 'invalid_input');
    expectError(() => new SearchIndex({ feedback: { documents: 0 } }), 'invalid_input');
    expectError(() => new SearchIndex({ dimensions: 1.5 }), 'invalid_input');
  });
});

describe('SearchIndex.search', () => {
  it('ranks best first with scores in (0, 1]', () => {
    const results = papers().search('boundary layer transition');
    expect(results[0]!.id).toBe('p1');
    for (const [i, r] of results.entries()) {
      expect(r.score).toBeGreaterThan(0);
      expect(r.score).toBeLessThanOrEqual(1);
      if (i > 0) expect(r.score).toBeLessThanOrEqual(results[i - 1]!.score);
    }
  });

  it('divides the BM25F score by its upper bound Σ idf', () => {
    const index = new SearchIndex({ feedback: false, phrases: false, k1: 1.2, b: 0.75 });
    index.add({ id: 'a', text: 'wing' });
    index.add({ id: 'b', text: 'flow flow flow' });
    // avg length 2; "a" has length 1: tf' = 1 / (0.25 + 0.75 · 1/2) = 1.6; score = tf' / (k1 + tf')
    expect(index.search('wing')[0]!.score).toBeCloseTo(1.6 / 2.8, 12);
    // half the query's idf mass is missing from "a": the score halves
    const [hit] = index.search('wing unknownword');
    const idfWing = Math.log(1 + 1.5 / 1.5);
    const idfUnknown = Math.log(1 + 2.5 / 0.5);
    expect(hit!.score).toBeCloseTo(((1.6 / 2.8) * idfWing) / (idfWing + idfUnknown), 12);
  });

  it('weights fields: a title match counts more when the title weighs more', () => {
    const docs = [
      { id: 'in-title', title: 'flutter', text: 'a study of wings and their motion' },
      { id: 'in-text', title: 'a study of wings', text: 'flutter and their motion' },
    ];
    const titleFirst = new SearchIndex({ fields: { title: 3, text: 1 }, feedback: false });
    titleFirst.addAll(docs);
    expect(ids(titleFirst.search('flutter'))).toEqual(['in-title', 'in-text']);
    const textFirst = new SearchIndex({ fields: { title: 1, text: 3 }, feedback: false });
    textFirst.addAll(docs);
    expect(ids(textFirst.search('flutter'))).toEqual(['in-text', 'in-title']);
  });

  it('ranks words in the query order above the same words apart (word pairs)', () => {
    const docs = [
      { id: 'apart', text: 'the layer over the boundary' },
      { id: 'together', text: 'the boundary layer over it' },
    ];
    const withPairs = new SearchIndex({ feedback: false });
    withPairs.addAll(docs);
    expect(ids(withPairs.search('boundary layer'))).toEqual(['together', 'apart']);
    const withoutPairs = new SearchIndex({ feedback: false, phrases: false });
    withoutPairs.addAll(docs);
    const [first, second] = withoutPairs.search('boundary layer');
    expect(first!.score).toBeCloseTo(second!.score, 12);
  });

  it('expands the query with feedback from its best hits, unless told not to', () => {
    const index = new SearchIndex();
    index.addAll([
      { id: 'a', text: 'apple banana cherry' },
      { id: 'b', text: 'apple banana' },
      { id: 'c', text: 'banana cherry durian' },
      { id: 'd', text: 'unrelated words entirely' },
    ]);
    expect(ids(index.search('apple', { feedback: false })).sort()).toEqual(['a', 'b']);
    // a handful of documents is below the default minDocuments (100): no expansion
    expect(ids(index.search('apple')).sort()).toEqual(['a', 'b']);
    const expanded = index.search('apple', { feedback: { minDocuments: 0 } });
    expect(ids(expanded).slice(0, 2).sort()).toEqual(['a', 'b']);
    expect(ids(expanded)).toContain('c');
    expect(ids(expanded)).not.toContain('d');
    // the best hit keeps its first-pass score
    expect(expanded[0]!.score).toBeCloseTo(index.search('apple', { feedback: false })[0]!.score, 12);
  });

  it('leaves common words out of the expansion with minIdf', () => {
    const index = new SearchIndex();
    index.addAll([
      { id: 'a', text: 'apple common' },
      { id: 'b', text: 'banana common' },
      { id: 'c', text: 'cherry common' },
      { id: 'd', text: 'apple durian' },
    ]);
    const all = ids(index.search('apple', { feedback: { minDocuments: 0 } }));
    expect(all).toContain('b'); // reached through "common"
    const strict = ids(index.search('apple', { feedback: { minDocuments: 0, minIdf: 1 } }));
    expect(strict).not.toContain('b');
    expect(strict.slice(0, 2).sort()).toEqual(['a', 'd']);
    expect(() => index.search('apple', { feedback: { minIdf: -1 } })).toThrow(/minIdf/);
  });

  it('does not let feedback rank a neighbour above the document that holds the query', () => {
    const index = new SearchIndex({ fields: { text: 1, context: 0.2 } });
    index.addAll([
      { id: 'first', text: 'User prefers technical explanations', context: '' },
      {
        id: 'second',
        text: 'User is learning Rust in the evenings',
        context: 'User prefers technical explanations',
      },
    ]);
    expect(ids(index.search('preferences'))[0]).toBe('first');
  });

  it('filters before the limit, and honours limit and minScore', () => {
    const index = papers();
    const all = index.search('boundary layer', { feedback: false });
    expect(all.length).toBeGreaterThanOrEqual(3);
    const filtered = index.search('boundary layer', {
      feedback: false,
      filter: (id) => id !== all[0]!.id,
      limit: 2,
    });
    expect(ids(filtered)).toEqual(ids(all).slice(1, 3));
    expect(index.search('boundary layer', { limit: 1 })).toHaveLength(1);
    expect(index.search('boundary layer', { limit: 0 })).toEqual([]);
    expect(index.search('boundary layer', { limit: 2 ** 31, feedback: false })).toEqual(all);
    const threshold = all[1]!.score;
    expect(
      index
        .search('boundary layer', { feedback: false, minScore: threshold })
        .every((r) => r.score >= threshold),
    ).toBe(true);
    expect(index.search('boundary layer', { minScore: 1 })).toEqual([]);
    expectError(() => index.search('x', { limit: -1 }), 'invalid_input');
    expectError(() => index.search('x', { limit: 1.5 }), 'invalid_input');
    expectError(() => index.search('x', { minScore: 2 }), 'invalid_input');
    expectError(() => index.search(42 as never), 'invalid_input');
  });

  it('returns nothing for an empty, stop-word-only or unknown query, or an empty index', () => {
    const index = papers();
    expect(index.search('')).toEqual([]);
    expect(index.search('   ?!  ')).toEqual([]);
    expect(index.search('what is the')).toEqual([]);
    expect(index.search('zyzzyva')).toEqual([]);
    expect(new SearchIndex().search('boundary')).toEqual([]);
  });

  it('finds unicode text: folded accents, CJK, Greek and Cyrillic', () => {
    const index = new SearchIndex();
    index.addAll([
      { id: 'fr', text: 'Un café très naïve à Montréal' },
      { id: 'ja', text: '東京都に行きました' },
      { id: 'el', text: 'Η Ελληνική γλώσσα' },
      { id: 'ru', text: 'Русский язык и слово' },
      { id: 'emoji', text: 'party 🎉 time' },
    ]);
    expect(ids(index.search('cafe montreal'))).toEqual(['fr']);
    expect(ids(index.search('CAFÉ'))).toEqual(['fr']);
    expect(ids(index.search('東京'))).toEqual(['ja']);
    expect(ids(index.search('京都'))).toEqual(['ja']);
    expect(ids(index.search('ελληνική'))).toEqual(['el']);
    expect(ids(index.search('СЛОВО'))).toEqual(['ru']);
    expect(ids(index.search('party 🎉'))).toEqual(['emoji']);
  });
});

describe('SearchIndex vectors', () => {
  const vectorDocs = [
    { id: 'north', text: 'cold snow ice', vector: [0, 1, 0] },
    { id: 'east', text: 'sunrise morning', vector: [1, 0, 0] },
    { id: 'northeast', text: 'snow at sunrise', vector: [1, 1, 0] },
    { id: 'none', text: 'snow without a vector' },
  ];

  it('ranks by cosine similarity when the query is only a vector', () => {
    const index = new SearchIndex();
    index.addAll(vectorDocs);
    const results = index.search('', { vector: new Float32Array([0.1, 1, 0]) });
    expect(ids(results)).toEqual(['north', 'northeast', 'east']);
    expect(results[0]!.score).toBeCloseTo(1 / Math.sqrt(1.01), 6);
    expect(results[1]!.score).toBeCloseTo(1.1 / Math.sqrt(2 * 1.01), 6);
    expect(index.vectorDimensions).toBe(3);
  });

  it('fuses lexical and cosine rankings with RRF, normalised so first in both scores 1', () => {
    const index = new SearchIndex({ feedback: false });
    index.addAll(vectorDocs);
    const results = index.search('snow sunrise', { vector: [1, 1, 0] });
    expect(results[0]).toEqual({ id: 'northeast', score: 1 });
    expect(ids(results)).toEqual(expect.arrayContaining(['north', 'east', 'none']));
    for (const r of results) expect(r.score).toBeLessThanOrEqual(1);
  });

  it('fuses by a convex combination when asked', () => {
    const index = new SearchIndex({ feedback: false, fusion: { method: 'convex', alpha: 0 } });
    index.addAll(vectorDocs);
    const onlyCosine = index.search('snow', { vector: [1, 0, 0] });
    expect(onlyCosine[0]!.id).toBe('east');
    expect(onlyCosine[0]!.score).toBeCloseTo(1, 6);
    const onlyLexical = index.search('snow', { vector: [1, 0, 0], fusion: { method: 'convex', alpha: 1 } });
    expect(ids(onlyLexical).sort()).toEqual(['none', 'north', 'northeast']);
    const lexical = index.search('snow', { fusion: { method: 'convex', alpha: 1 } });
    expect(onlyLexical).toEqual(lexical);
    // no searchable word: cosine alone, not scaled by 1 - alpha
    const half = index.search('', { vector: [1, 0, 0], fusion: { method: 'convex', alpha: 0.5 } });
    expect(half[0]).toEqual({ id: 'east', score: expect.closeTo(1, 6) });
  });

  it('refuses a query vector of the wrong length; one given to an index without vectors is ignored', () => {
    const index = new SearchIndex();
    index.addAll(vectorDocs);
    expectError(() => index.search('snow', { vector: [1, 0] }), 'invalid_input');
    const plain = new SearchIndex({ feedback: false });
    plain.add({ id: 'a', text: 'snow' });
    expect(ids(plain.search('snow', { vector: [1, 2, 3, 4] }))).toEqual(['a']);
    plain.add({ id: 'b', text: 'snow', vector: [1, 0] });
    expect(plain.vectorDimensions).toBe(2);
  });

  it('sets and drops the vector of a document without re-indexing its text', () => {
    const index = new SearchIndex();
    index.addAll(vectorDocs);
    expect(index.setVector('none', [0, 0, 1])).toBe(true);
    expect(ids(index.search('', { vector: [0, 0, 1] }))).toEqual(['none']);
    expect(index.setVector('none', undefined)).toBe(true);
    expect(index.search('', { vector: [0, 0, 1] })).toEqual([]);
    expect(index.setVector('missing', [1, 0, 0])).toBe(false);
    expectError(() => index.setVector('north', [1, 0]), 'invalid_input');
    expect(ids(index.search('ice', { feedback: false }))).toEqual(['north']);
  });

  it('applies the filter to vector results too', () => {
    const index = new SearchIndex();
    index.addAll(vectorDocs);
    expect(ids(index.search('', { vector: [0, 1, 0], filter: (id) => id !== 'north' }))[0]).toBe('northeast');
  });
});

describe('SearchIndex serialization', () => {
  const QUERIES = [
    'boundary layer',
    'heat transfer hypersonic',
    'wing flutter',
    'slender',
    'paint',
    'flow speeds',
  ];

  function churned(): SearchIndex {
    const index = papers();
    let seed = 3;
    const random = (): number => {
      seed = (seed * 16_807) % 2_147_483_647;
      return seed / 2_147_483_647;
    };
    const words = ['wing', 'flow', 'layer', 'heat', 'shock', 'plate', 'cone', 'drag', 'speeds', 'paint'];
    for (let i = 0; i < 300; i++) {
      const text = Array.from(
        { length: 3 + Math.floor(random() * 20) },
        () => words[Math.floor(random() * 10)],
      ).join(' ');
      index.add({
        id: `d${i}`,
        title: words[i % 10],
        text,
        vector: [random(), random(), random(), random()],
      });
      if (i % 4 === 1) index.remove(`d${i - 1}`);
      if (i % 9 === 0) index.remove(`p${(i % 6) + 1}`);
    }
    return index;
  }

  it('round-trips to identical results, lexical, vector and hybrid', () => {
    const index = churned();
    const loaded = SearchIndex.fromJSON(JSON.stringify(index));
    expect(loaded.size).toBe(index.size);
    expect(loaded.ids().sort()).toEqual(index.ids().sort());
    expect(loaded.fields).toEqual(index.fields);
    for (const query of QUERIES) {
      expect(index.search(query, { limit: 20 }).length).toBeGreaterThan(0);
      expect(loaded.search(query, { limit: 20 })).toEqual(index.search(query, { limit: 20 }));
      expect(loaded.search(query, { feedback: false, limit: 50 })).toEqual(
        index.search(query, { feedback: false, limit: 50 }),
      );
      const vector = [0.2, 0.9, 0.1, 0.4];
      expect(loaded.search(query, { vector })).toEqual(index.search(query, { vector }));
      expect(loaded.search('', { vector })).toEqual(index.search('', { vector }));
    }
    expect(loaded.toJSON()).toEqual(index.toJSON());
  });

  it('keeps working after loading: adds and removes give what the original gives', () => {
    const index = churned();
    const loaded = SearchIndex.fromJSON(index.toJSON());
    for (const target of [index, loaded]) {
      target.remove('d299');
      target.remove('p2');
      target.add({
        id: 'new',
        title: 'boundary layer',
        text: 'a new boundary layer paper',
        vector: [1, 0, 0, 0],
      });
    }
    for (const query of QUERIES) {
      expect(index.search(query).length).toBeGreaterThan(0);
      expect(loaded.search(query)).toEqual(index.search(query));
    }
  });

  it('can leave vectors out, to be set again with setVector', () => {
    const index = churned();
    const json = index.serialize({ vectors: false });
    expect(json.vectors).toBeUndefined();
    const loaded = SearchIndex.fromJSON(json);
    expect(loaded.search('', { vector: [1, 0, 0, 0] })).toEqual([]);
    expect(loaded.search('wing flow', { feedback: false })).toEqual(
      index.search('wing flow', { feedback: false }),
    );
    expect(loaded.vectorDimensions).toBeUndefined();
  });

  it('is compact: binary parts are base64 strings', () => {
    const json = papers().toJSON();
    expect(json.format).toBe('sessions-search-index');
    expect(json.version).toBe(1);
    expect(typeof json.postings).toBe('string');
    expect(json.ids).toHaveLength(6);
    expect(json.vectors).toBeUndefined();
  });

  it('round-trips an empty index and custom stop words', () => {
    const empty = SearchIndex.fromJSON(JSON.stringify(new SearchIndex()));
    expect(empty.size).toBe(0);
    empty.add({ id: 'a', text: 'works' });
    expect(ids(empty.search('works'))).toEqual(['a']);

    const custom = new SearchIndex({ tokenizer: { stopWords: new Set(['flow']), stem: false } });
    custom.add({ id: 'a', text: 'flow speeds' });
    const loaded = SearchIndex.fromJSON(JSON.stringify(custom));
    expect(loaded.search('flow')).toEqual([]);
    expect(ids(loaded.search('speeds'))).toEqual(['a']);
    expect(loaded.search('speed')).toEqual([]);
  });

  it('takes query-time options again at load, and needs a custom stemmer back', () => {
    const stem = (word: string): string => word.slice(0, 4);
    const index = new SearchIndex({ tokenizer: { stem } });
    index.add({ id: 'a', text: 'painting' });
    expectError(() => SearchIndex.fromJSON(index.toJSON()), 'invalid_input');
    const loaded = SearchIndex.fromJSON(index.toJSON(), { tokenizer: { stem }, feedback: false });
    expect(ids(loaded.search('paintbrush'))).toEqual(['a']);
    expect(loaded.toJSON().feedback).toBe(false);
  });

  it('throws SessionCorruptError for data that is not a serialized index', () => {
    const good = churned().toJSON();
    expectError(() => SearchIndex.fromJSON('{not json'), 'session_corrupt');
    expectError(() => SearchIndex.fromJSON('null'), 'session_corrupt');
    expectError(() => SearchIndex.fromJSON({ ...good, format: 'other' } as never), 'session_corrupt');
    expectError(() => SearchIndex.fromJSON({ ...good, version: 2 } as never), 'session_corrupt');
    expectError(() => SearchIndex.fromJSON({ ...good, postings: good.postings.slice(8) }), 'session_corrupt');
    expectError(() => SearchIndex.fromJSON({ ...good, lengths: 'AAAA' }), 'session_corrupt');
    expectError(
      () => SearchIndex.fromJSON({ ...good, ids: [...good.ids.slice(1), good.ids[0]!, 'x'] }),
      'session_corrupt',
    );
    expectError(() => SearchIndex.fromJSON({ ...good, ids: good.ids.map(() => 'same') }), 'session_corrupt');
    expectError(() => SearchIndex.fromJSON({ ...good, fields: undefined } as never), 'session_corrupt');
    expectError(
      () => SearchIndex.fromJSON({ ...good, vectors: { ...good.vectors!, data: 'AAAA' } }),
      'session_corrupt',
    );
  });
});
