import { describe, expect, it } from 'vitest';
import { makeDocx } from '../fixtures.test-helper.js';
import { loadDocx } from './load-docx.js';

describe('loadDocx', () => {
  it('reads paragraphs and headings of a real .docx', async () => {
    const bytes = await makeDocx('Quarterly Report', [
      { heading: 'Revenue', paragraphs: ['Revenue grew by 12 percent.', 'Mostly from exports.'] },
      { heading: 'Costs', paragraphs: ['Costs stayed flat.'] },
    ]);
    const doc = await loadDocx(bytes);
    expect(doc.type).toBe('docx');
    expect(doc.title).toBe('Quarterly Report');
    const view = doc.blocks.map((block) => [doc.text.slice(block.start, block.end), block.headings]);
    expect(view).toEqual([
      ['Quarterly Report', ['Quarterly Report']],
      ['Revenue', ['Revenue']],
      ['Revenue grew by 12 percent.', ['Revenue']],
      ['Mostly from exports.', ['Revenue']],
      ['Costs', ['Costs']],
      ['Costs stayed flat.', ['Costs']],
    ]);
  });

  it('rejects a zip that is not a Word document', async () => {
    await expect(loadDocx(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 1, 2, 3]))).rejects.toThrow();
  });
});
