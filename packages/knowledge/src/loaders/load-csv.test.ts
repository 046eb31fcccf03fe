import { describe, expect, it } from 'vitest';
import { loadCsv } from './load-csv.js';

describe('loadCsv', () => {
  it('turns every row into "column: value" lines', () => {
    const doc = loadCsv('\uFEFFname,role,notes\nAda,engineer,"likes, commas"\nGrace,admiral,\n\n');
    expect(doc.text).toBe('name: Ada\nrole: engineer\nnotes: likes, commas\n\nname: Grace\nrole: admiral');
    expect(doc.blocks).toHaveLength(2);
  });

  it('detects tabs as the delimiter', () => {
    expect(loadCsv('a\tb\n1\t2\n').text).toBe('a: 1\nb: 2');
  });
});
