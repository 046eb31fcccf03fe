import { Lexer, type Token } from 'marked';
import { type LoadedDocument, normalizeNewlines, pushTrimmed, type TextBlock } from './loaded-document.js';

/**
 * Markdown: the text is the source itself (so offsets point into the file), one block per
 * top-level element, each knowing the heading path it sits under. The title is the first `#` heading.
 */
export function loadMarkdown(input: string): LoadedDocument {
  const text = normalizeNewlines(input);
  const tokens = Lexer.lex(text);
  const blocks: TextBlock[] = [];
  const stack: { depth: number; text: string }[] = [];
  let title: string | undefined;
  let cursor = 0;
  for (const token of tokens) {
    const at = text.indexOf(token.raw, cursor);
    if (at < 0) {
      // The lexer changed the source (it should not); keep the rest as plain paragraphs.
      pushTrimmed(blocks, text, cursor, text.length, headingPath(stack));
      cursor = text.length;
      break;
    }
    const start = at;
    const end = at + token.raw.length;
    cursor = end;
    if (token.type === 'space') continue;
    if (token.type === 'heading') {
      const heading = plainText(token).replace(/\s+/g, ' ').trim();
      while (stack.length > 0 && stack[stack.length - 1]!.depth >= token.depth) stack.pop();
      stack.push({ depth: token.depth, text: heading });
      if (title === undefined && token.depth === 1 && heading !== '') title = heading;
      pushTrimmed(blocks, text, start, end, headingPath(stack), { heading: true });
      continue;
    }
    pushTrimmed(blocks, text, start, end, headingPath(stack));
  }
  if (cursor < text.length) pushTrimmed(blocks, text, cursor, text.length, headingPath(stack));
  return title === undefined ? { type: 'markdown', text, blocks } : { type: 'markdown', text, title, blocks };
}

function headingPath(stack: { text: string }[]): string[] {
  return stack.map((entry) => entry.text);
}

/** The visible text of an inline token tree (`**bold** [link](x)` → `bold link`). */
function plainText(token: Token): string {
  if ('tokens' in token && Array.isArray(token.tokens) && token.tokens.length > 0) {
    return token.tokens.map((child) => plainText(child)).join('');
  }
  return 'text' in token && typeof token.text === 'string' ? token.text : token.raw;
}
