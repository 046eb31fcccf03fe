import { describe, expect, it } from 'vitest';
import { makePdf } from '../fixtures.test-helper.js';
import { loadPdf } from './load-pdf.js';

describe('loadPdf', () => {
  it('extracts the text of every page, paragraph by paragraph, each block with its page', async () => {
    const bytes = await makePdf(
      [
        ['Chapter one', '', 'Turbines spin when', 'steam pushes the blades.'],
        ['Chapter two', '', 'Generators turn motion into', 'electric current.'],
        ['Appendix'],
      ],
      'Power Plants',
    );
    const doc = await loadPdf(bytes);
    expect(doc.title).toBe('Power Plants');
    const view = doc.blocks.map((block) => [doc.text.slice(block.start, block.end), block.page]);
    expect(view).toEqual([
      ['Chapter one', 1],
      ['Turbines spin when steam pushes the blades.', 1],
      ['Chapter two', 2],
      ['Generators turn motion into electric current.', 2],
      ['Appendix', 3],
    ]);
  });

  it('rejects bytes that are not a PDF', async () => {
    await expect(loadPdf(new TextEncoder().encode('%PDF-1.7 garbage'))).rejects.toThrow();
  });
});
