import { type LoadedDocument, normalizeNewlines, paragraphBlocks } from './loaded-document.js';

/** Plain text: paragraphs are the blocks between blank lines. */
export function loadText(input: string): LoadedDocument {
  const text = normalizeNewlines(input);
  return { type: 'text', text, blocks: paragraphBlocks(text) };
}
