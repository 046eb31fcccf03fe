import { type LoadedDocument, TextBuilder } from './loaded-document.js';

interface PositionedText {
  str: string;
  hasEOL: boolean;
  y: number;
  size: number;
}

/**
 * PDF (through pdfjs-dist): the text of each page, split into paragraphs where the gap between
 * lines is wider than usual; every block knows its 1-based page. The title is the document's
 * Title metadata when it has one.
 */
export async function loadPdf(bytes: Uint8Array): Promise<LoadedDocument> {
  const { getDocument } = await import('pdfjs-dist/legacy/build/pdf.mjs');
  const task = getDocument({
    data: new Uint8Array(bytes),
    isEvalSupported: false,
    disableFontFace: true,
    useSystemFonts: false,
    verbosity: 0,
  });
  const pdf = await task.promise;
  try {
    const out = new TextBuilder();
    for (let page = 1; page <= pdf.numPages; page++) {
      const content = await (await pdf.getPage(page)).getTextContent();
      const items: PositionedText[] = [];
      for (const item of content.items) {
        if (!('str' in item)) continue;
        items.push({
          str: item.str,
          hasEOL: item.hasEOL,
          y: item.transform[5] ?? 0,
          size: Math.abs(item.transform[3] ?? 0) || item.height || 10,
        });
      }
      for (const paragraph of paragraphs(items)) out.add(paragraph, { headings: [], page });
    }
    const metadata = await pdf.getMetadata().catch(() => undefined);
    const info = metadata?.info as { Title?: unknown } | undefined;
    const title = typeof info?.Title === 'string' ? info.Title.trim() : '';
    const text = out.text;
    return title
      ? { type: 'pdf', text, title, blocks: out.blocks }
      : { type: 'pdf', text, blocks: out.blocks };
  } finally {
    await pdf.destroy();
  }
}

/** Joins positioned text runs into lines, and lines into paragraphs at wide vertical gaps. */
function paragraphs(items: PositionedText[]): string[] {
  const result: string[] = [];
  let paragraph: string[] = [];
  let line = '';
  let lineY: number | undefined;
  let lineSize = 0;
  let lastLineY: number | undefined;
  let lastLineSize = 0;

  const endLine = (): void => {
    const text = line.replace(/\s+/g, ' ').trim();
    if (text !== '') {
      if (lastLineY !== undefined && lineY !== undefined) {
        const gap = Math.abs(lastLineY - lineY);
        if (gap > 1.6 * Math.max(lineSize, lastLineSize)) endParagraph();
      }
      paragraph.push(text);
      lastLineY = lineY;
      lastLineSize = lineSize;
    }
    line = '';
    lineY = undefined;
    lineSize = 0;
  };
  const endParagraph = (): void => {
    if (paragraph.length > 0) result.push(joinLines(paragraph));
    paragraph = [];
  };

  for (const item of items) {
    if (item.str !== '') {
      if (lineY !== undefined && Math.abs(item.y - lineY) > 0.5 * Math.max(item.size, lineSize)) endLine();
      if (lineY === undefined) lineY = item.y;
      lineSize = Math.max(lineSize, item.size);
      line += item.str;
    }
    if (item.hasEOL) endLine();
  }
  endLine();
  endParagraph();
  return result;
}

/** Joins the lines of a paragraph; a line ending in a hyphen runs on without a space. */
function joinLines(lines: string[]): string {
  let text = lines[0] ?? '';
  for (const next of lines.slice(1)) text = /[A-Za-z]-$/.test(text) ? text + next : `${text} ${next}`;
  return text;
}
