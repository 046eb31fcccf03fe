import type { LoadedDocument, TextBlock } from './loaders/loaded-document.js';

/** One passage of a document: offsets into the document's text, its heading path and page. */
export interface Chunk {
  index: number;
  start: number;
  end: number;
  text: string;
  headings: string[];
  page?: number;
}

export interface ChunkOptions {
  /** Longest chunk in characters. */
  chunkSize: number;
  /** Characters of the previous chunk's end repeated at the start of the next. */
  chunkOverlap: number;
}

interface Span {
  start: number;
  end: number;
  /** The first span of a block too long to be one chunk. */
  opensLongBlock?: boolean;
}

const sentences = new Intl.Segmenter('en', { granularity: 'sentence' });

/**
 * Splits a document into chunks of at most `chunkSize` characters that respect its structure: a
 * heading starts a new chunk and a page is never crossed; whole paragraphs are packed together
 * while they fit; a longer paragraph is cut between sentences, a longer sentence between words.
 * Each chunk after the first of a section starts with up to `chunkOverlap` characters of the one
 * before it, beginning at a sentence (or word) boundary.
 */
export function chunkDocument(document: LoadedDocument, options: ChunkOptions): Chunk[] {
  const { text } = document;
  const chunks: Chunk[] = [];
  for (const section of sections(document.blocks)) {
    const last = section[section.length - 1]!;
    const headings = last.headings;
    const page = last.page;
    for (const span of pack(text, spans(text, section, options.chunkSize), options)) {
      const chunk: Chunk = {
        index: chunks.length,
        start: span.start,
        end: span.end,
        text: text.slice(span.start, span.end),
        headings,
      };
      if (page !== undefined) chunk.page = page;
      chunks.push(chunk);
    }
  }
  return chunks;
}

/** Groups blocks into sections: a new one at a heading that follows body text, and at each new page. */
function sections(blocks: TextBlock[]): TextBlock[][] {
  const result: TextBlock[][] = [];
  let current: TextBlock[] = [];
  let hasBody = false;
  for (const block of blocks) {
    const first = current[0];
    if (first && (first.page !== block.page || (block.heading && hasBody))) {
      result.push(current);
      current = [];
      hasBody = false;
    }
    current.push(block);
    if (!block.heading) hasBody = true;
  }
  if (current.length > 0) result.push(current);
  return result;
}

/** The atomic spans of a section: whole blocks when they fit a chunk, else sentences, else words. */
function spans(text: string, blocks: TextBlock[], chunkSize: number): Span[] {
  const result: Span[] = [];
  for (const block of blocks) {
    if (block.end - block.start <= chunkSize) {
      result.push({ start: block.start, end: block.end });
      continue;
    }
    const first = result.length;
    for (const sentence of sentenceSpans(text, block.start, block.end)) {
      if (sentence.end - sentence.start <= chunkSize) result.push(sentence);
      else result.push(...wordSpans(text, sentence.start, sentence.end, chunkSize));
    }
    if (result[first]) result[first].opensLongBlock = true;
  }
  return result;
}

function sentenceSpans(text: string, start: number, end: number): Span[] {
  const result: Span[] = [];
  for (const { index, segment } of sentences.segment(text.slice(start, end))) {
    const trimmed = trim(text, start + index, start + index + segment.length);
    if (trimmed) result.push(trimmed);
  }
  return result;
}

/** Cuts `[start, end)` into pieces of at most `size` characters at whitespace (hard cuts only for longer words). */
function wordSpans(text: string, start: number, end: number, size: number): Span[] {
  const result: Span[] = [];
  let from = start;
  while (from < end) {
    if (end - from <= size) {
      result.push({ start: from, end });
      break;
    }
    let cut = from + size;
    while (cut > from && !/\s/.test(text[cut]!)) cut--;
    if (cut === from) cut = from + size;
    const piece = trim(text, from, cut);
    if (piece) result.push(piece);
    from = cut;
    while (from < end && /\s/.test(text[from]!)) from++;
  }
  return result;
}

/** Packs spans greedily into chunks, each later chunk starting with an overlap from the one before. */
function pack(text: string, items: Span[], { chunkSize, chunkOverlap }: ChunkOptions): Span[] {
  const result: Span[] = [];
  let current: Span | undefined;
  for (const item of items) {
    if (!current) {
      current = { start: item.start, end: item.end };
      continue;
    }
    const fits = item.end - current.start <= chunkSize;
    const breakAtParagraph = item.opensLongBlock === true && current.end - current.start >= chunkSize / 3;
    if (fits && !breakAtParagraph) {
      current.end = item.end;
      continue;
    }
    result.push(current);
    const overlap = overlapStart(text, current, chunkOverlap);
    current = {
      start: overlap !== undefined && item.end - overlap <= chunkSize ? overlap : item.start,
      end: item.end,
    };
  }
  if (current) result.push(current);
  return result;
}

/**
 * Where the next chunk starts inside `previous` so that at most `overlap` characters repeat: the
 * first sentence start at or after `previous.end - overlap`, else the first word start there.
 */
function overlapStart(text: string, previous: Span, overlap: number): number | undefined {
  if (overlap <= 0) return undefined;
  const target = Math.max(previous.start + 1, previous.end - overlap);
  const from = Math.max(previous.start, target - 64);
  const window = text.slice(from, previous.end);
  for (const { index } of sentences.segment(window)) {
    const at = from + index;
    if (at >= target && at < previous.end && !/\s/.test(text[at]!)) return at;
  }
  for (let at = target; at < previous.end; at++) {
    if (!/\s/.test(text[at]!) && /\s/.test(text[at - 1]!)) return at;
  }
  return undefined;
}

function trim(text: string, start: number, end: number): Span | undefined {
  let s = start;
  let e = end;
  while (s < e && /\s/.test(text[s]!)) s++;
  while (e > s && /\s/.test(text[e - 1]!)) e--;
  return e > s ? { start: s, end: e } : undefined;
}
