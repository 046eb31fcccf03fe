import { describe, expect, it } from 'vitest';
import { loadJson } from './load-json.js';

describe('loadJson', () => {
  it('renders values as indented key: value lines, one block per top-level key', () => {
    const doc = loadJson(
      JSON.stringify({
        name: 'Ada',
        tags: ['math', 'engines'],
        address: { city: 'London', zip: null },
        empty: [],
      }),
    );
    expect(doc.text).toBe(
      'name: Ada\n\ntags:\n  - math\n  - engines\n\naddress:\n  city: London\n  zip: null\n\nempty: []',
    );
    expect(doc.blocks).toHaveLength(4);
  });

  it('renders top-level arrays item by item, one block each', () => {
    const doc = loadJson('[{"q":"Why?","a":"Because."},{"q":"How?","a":"Like so."}]');
    expect(doc.text).toBe('q: Why?\na: Because.\n\nq: How?\na: Like so.');
    expect(doc.blocks).toHaveLength(2);
  });

  it('throws on malformed JSON', () => {
    expect(() => loadJson('{"a":')).toThrow(SyntaxError);
  });
});
