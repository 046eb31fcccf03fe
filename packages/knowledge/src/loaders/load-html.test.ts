import { describe, expect, it } from 'vitest';
import { loadHtml } from './load-html.js';

describe('loadHtml', () => {
  it('extracts visible text by block with heading paths and the <title>', () => {
    const doc = loadHtml(`<!doctype html><html><head><title> Fusion &amp; Power </title>
      <style>body { color: red }</style><script>var secret = 1;</script></head>
      <body><nav>Home</nav><h1>Reactors</h1><p>Tokamaks   confine
      plasma.<br>Stellarators twist it.</p><h2>History</h2><ul><li>1950s</li><li>1960s</li></ul>
      <table><tr><td>a</td><td>b</td></tr></table><pre>  keep
   spacing</pre></body></html>`);
    expect(doc.title).toBe('Fusion & Power');
    expect(doc.text).not.toContain('secret');
    expect(doc.text).not.toContain('color');
    const view = doc.blocks.map((block) => [doc.text.slice(block.start, block.end), block.headings]);
    expect(view).toEqual([
      ['Home', []],
      ['Reactors', ['Reactors']],
      ['Tokamaks confine plasma.\nStellarators twist it.', ['Reactors']],
      ['History', ['Reactors', 'History']],
      ['1950s', ['Reactors', 'History']],
      ['1960s', ['Reactors', 'History']],
      ['a b', ['Reactors', 'History']],
      ['keep\nspacing', ['Reactors', 'History']],
    ]);
  });

  it('falls back to the first h1 for the title', () => {
    expect(loadHtml('<h1>Only heading</h1><p>x</p>').title).toBe('Only heading');
  });
});
