import { describe, expect, it } from 'vitest';
import { loadMarkdown } from './load-markdown.js';

describe('loadMarkdown', () => {
  const source = [
    '# Guide',
    '',
    'Intro paragraph.',
    '',
    '## Install',
    '',
    'Run **pnpm add** now.',
    '',
    '- one',
    '- two',
    '',
    '### Windows',
    '',
    'Use WSL.',
    '',
    '## Usage',
    '',
    'Call it.',
  ].join('\r\n');

  it('keeps the source as text and gives each block its heading path and offsets', () => {
    const doc = loadMarkdown(source);
    expect(doc.type).toBe('markdown');
    expect(doc.title).toBe('Guide');
    expect(doc.text).not.toContain('\r');
    const view = doc.blocks.map((block) => [
      doc.text.slice(block.start, block.end),
      block.headings,
      !!block.heading,
    ]);
    expect(view).toEqual([
      ['# Guide', ['Guide'], true],
      ['Intro paragraph.', ['Guide'], false],
      ['## Install', ['Guide', 'Install'], true],
      ['Run **pnpm add** now.', ['Guide', 'Install'], false],
      ['- one\n- two', ['Guide', 'Install'], false],
      ['### Windows', ['Guide', 'Install', 'Windows'], true],
      ['Use WSL.', ['Guide', 'Install', 'Windows'], false],
      ['## Usage', ['Guide', 'Usage'], true],
      ['Call it.', ['Guide', 'Usage'], false],
    ]);
  });

  it('uses the visible text of a heading with inline markup', () => {
    const doc = loadMarkdown('# The **bold** [link](http://x)\n\ntext');
    expect(doc.title).toBe('The bold link');
  });
});
