import { loadHtml } from './load-html.js';
import type { LoadedDocument } from './loaded-document.js';

/** Word (.docx, through mammoth): converted to HTML, so headings and paragraphs keep their structure. */
export async function loadDocx(bytes: Uint8Array): Promise<LoadedDocument> {
  const { default: mammoth } = await import('mammoth');
  const { value } = await mammoth.convertToHtml(
    { buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) },
    { styleMap: ["p[style-name='Title'] => h1:fresh"] },
  );
  return { ...loadHtml(value), type: 'docx' };
}
