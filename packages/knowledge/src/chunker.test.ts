import { describe, expect, it } from 'vitest';
import { chunkDocument } from './chunker.js';
import { loadMarkdown } from './loaders/load-markdown.js';
import { loadText } from './loaders/load-text.js';
import type { LoadedDocument } from './loaders/loaded-document.js';

function sentence(n: number): string {
  return `Sentence number ${n} talks about topic ${n} in some detail.`;
}

describe('chunkDocument', () => {
  it('keeps a short document in one chunk whose offsets cover its text', () => {
    const doc = loadText('First paragraph.\n\nSecond paragraph.');
    const chunks = chunkDocument(doc, { chunkSize: 1000, chunkOverlap: 100 });
    expect(chunks).toEqual([{ index: 0, start: 0, end: doc.text.length, text: doc.text, headings: [] }]);
  });

  it('packs whole paragraphs, never exceeds chunkSize, and every chunk text is its slice of the document', () => {
    const paragraphs = Array.from({ length: 30 }, (_, i) => `${sentence(i)} ${sentence(i + 100)}`);
    const doc = loadText(paragraphs.join('\n\n'));
    const chunks = chunkDocument(doc, { chunkSize: 300, chunkOverlap: 0 });
    expect(chunks.length).toBeGreaterThan(5);
    for (const chunk of chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(300);
      expect(doc.text.slice(chunk.start, chunk.end)).toBe(chunk.text);
      // whole paragraphs only: every chunk starts and ends on a paragraph boundary
      expect(paragraphs.some((p) => chunk.text.startsWith(p))).toBe(true);
      expect(paragraphs.some((p) => chunk.text.endsWith(p))).toBe(true);
    }
    // without overlap, the chunks cover every paragraph exactly once
    expect(chunks.map((chunk) => chunk.text).join('\n\n')).toBe(doc.text);
  });

  it('cuts a long paragraph between sentences and repeats up to chunkOverlap characters', () => {
    const text = Array.from({ length: 40 }, (_, i) => sentence(i)).join(' ');
    const doc = loadText(text);
    const chunks = chunkDocument(doc, { chunkSize: 400, chunkOverlap: 120 });
    expect(chunks.length).toBeGreaterThan(4);
    for (const [i, chunk] of chunks.entries()) {
      expect(chunk.text.length).toBeLessThanOrEqual(400);
      expect(chunk.text).toMatch(/^Sentence number \d+/);
      expect(chunk.text).toMatch(/detail\.$/);
      const next = chunks[i + 1];
      if (next) {
        expect(next.start).toBeLessThan(chunk.end); // overlaps
        expect(chunk.end - next.start).toBeLessThanOrEqual(120);
        expect(next.end).toBeGreaterThan(chunk.end); // and moves on
      }
    }
    expect(chunks[0]!.start).toBe(0);
    expect(chunks[chunks.length - 1]!.end).toBe(text.length);
  });

  it('cuts a sentence longer than chunkSize between words', () => {
    const words = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
    const chunks = chunkDocument(loadText(words), { chunkSize: 100, chunkOverlap: 0 });
    for (const chunk of chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(100);
      expect(chunk.text).toMatch(/^word\d+( word\d+)*$/);
    }
    expect(chunks.map((chunk) => chunk.text).join(' ')).toBe(words);
  });

  it('starts a new chunk at each heading and gives chunks their heading path', () => {
    const doc = loadMarkdown(
      '# Guide\n\n## Install\n\nRun it.\n\n## Usage\n\nCall it.\n\n### Flags\n\nUse --fast.',
    );
    const chunks = chunkDocument(doc, { chunkSize: 1000, chunkOverlap: 100 });
    expect(chunks.map((chunk) => [chunk.text, chunk.headings])).toEqual([
      ['# Guide\n\n## Install\n\nRun it.', ['Guide', 'Install']],
      ['## Usage\n\nCall it.', ['Guide', 'Usage']],
      ['### Flags\n\nUse --fast.', ['Guide', 'Usage', 'Flags']],
    ]);
  });

  it('never crosses a page and keeps page numbers', () => {
    const doc: LoadedDocument = {
      type: 'pdf',
      text: 'Page one text.\n\nPage two text.\n\nMore on two.',
      blocks: [
        { start: 0, end: 14, headings: [], page: 1 },
        { start: 16, end: 30, headings: [], page: 2 },
        { start: 32, end: 44, headings: [], page: 2 },
      ],
    };
    const chunks = chunkDocument(doc, { chunkSize: 1000, chunkOverlap: 100 });
    expect(chunks.map((chunk) => [chunk.text, chunk.page])).toEqual([
      ['Page one text.', 1],
      ['Page two text.\n\nMore on two.', 2],
    ]);
  });
});
