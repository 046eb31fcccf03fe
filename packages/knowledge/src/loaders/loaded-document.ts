/** The kinds of document the loaders read. */
export type DocumentType = 'text' | 'markdown' | 'html' | 'pdf' | 'docx' | 'json' | 'csv';

/** A span of a document's text that belongs together: a heading, a paragraph, a list, a row. */
export interface TextBlock {
  start: number;
  end: number;
  /** Heading path in force at this block (outermost first); a heading block includes itself. */
  headings: string[];
  /** Whether the block is itself a heading. */
  heading?: boolean;
  /** 1-based page, for paged formats. */
  page?: number;
}

/** What a loader extracts: the document's plain text and its structure as offsets into it. */
export interface LoadedDocument {
  type: DocumentType;
  text: string;
  title?: string;
  blocks: TextBlock[];
}

/** Builds a document's text block by block, recording each block's offsets. */
export class TextBuilder {
  readonly blocks: TextBlock[] = [];
  #parts: string[] = [];
  #length = 0;

  /** Appends `text` (trimmed; skipped when empty) as one block, separated from the last by a blank line. */
  add(text: string, block: Omit<TextBlock, 'start' | 'end'>): void {
    const trimmed = text.trim();
    if (trimmed === '') return;
    if (this.#length > 0) {
      this.#parts.push('\n\n');
      this.#length += 2;
    }
    this.blocks.push({ ...block, start: this.#length, end: this.#length + trimmed.length });
    this.#parts.push(trimmed);
    this.#length += trimmed.length;
  }

  get text(): string {
    const text = this.#parts.join('');
    this.#parts = [text];
    return text;
  }
}

/** Normalises line ends to `\n`. */
export function normalizeNewlines(text: string): string {
  return text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text;
}

/** Splits text into blocks at blank lines, keeping offsets. */
export function paragraphBlocks(text: string): TextBlock[] {
  const blocks: TextBlock[] = [];
  const blank = /\n[ \t]*\n/g;
  const to = text.length;
  const headings: string[] = [];
  let start = 0;
  for (;;) {
    const match = blank.exec(text);
    const end = match && match.index < to ? match.index : to;
    pushTrimmed(blocks, text, start, end, headings);
    if (!match || match.index >= to) break;
    start = match.index + match[0].length;
    blank.lastIndex = start;
  }
  return blocks;
}

/** Pushes `text[start, end)` without its surrounding whitespace, unless it is blank. */
export function pushTrimmed(
  blocks: TextBlock[],
  text: string,
  start: number,
  end: number,
  headings: string[],
  extra: Partial<TextBlock> = {},
): void {
  let s = start;
  let e = end;
  while (s < e && /\s/.test(text[s]!)) s++;
  while (e > s && /\s/.test(text[e - 1]!)) e--;
  if (e > s) blocks.push({ ...extra, start: s, end: e, headings });
}
