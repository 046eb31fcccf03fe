import { InvalidInputError } from '@sessions/core';
import { decodeUtf8 } from './detect-type.js';
import { loadCsv } from './load-csv.js';
import { loadDocx } from './load-docx.js';
import { loadHtml } from './load-html.js';
import { loadJson } from './load-json.js';
import { loadMarkdown } from './load-markdown.js';
import { loadPdf } from './load-pdf.js';
import { loadText } from './load-text.js';
import type { DocumentType, LoadedDocument } from './loaded-document.js';

const NAMES: Record<DocumentType, string> = {
  text: 'text',
  markdown: 'Markdown',
  html: 'HTML',
  pdf: 'PDF',
  docx: 'Word (.docx)',
  json: 'JSON',
  csv: 'CSV',
};

/**
 * Loads `bytes` as a document of `type`. Anything the loader cannot read, and a document with no
 * text at all, is an `InvalidInputError` that names `name` (the file, URL or "bytes").
 */
export async function loadDocument(
  bytes: Uint8Array,
  type: DocumentType,
  name: string,
): Promise<LoadedDocument> {
  let document: LoadedDocument;
  try {
    document = await parse(bytes, type, name);
  } catch (error) {
    if (error instanceof InvalidInputError) throw error;
    const reason = error instanceof Error ? error.message : String(error);
    throw new InvalidInputError(`Cannot read ${name} as ${NAMES[type]}: ${reason}`, { cause: error });
  }
  if (document.blocks.length === 0) {
    throw new InvalidInputError(
      `Cannot read ${name} as ${NAMES[type]}: it holds no text${type === 'pdf' ? ' (scanned pages without a text layer are not supported)' : ''}`,
    );
  }
  return document;
}

async function parse(bytes: Uint8Array, type: DocumentType, name: string): Promise<LoadedDocument> {
  if (type === 'pdf') return loadPdf(bytes);
  if (type === 'docx') return loadDocx(bytes);
  const text = decodeUtf8(bytes);
  if (text === undefined)
    throw new InvalidInputError(`Cannot read ${name} as ${NAMES[type]}: it is not UTF-8 text`);
  return loadString(text, type);
}

/** Loads a string as a text-based document type. */
export function loadString(text: string, type: Exclude<DocumentType, 'pdf' | 'docx'>): LoadedDocument {
  switch (type) {
    case 'markdown':
      return loadMarkdown(text);
    case 'html':
      return loadHtml(text);
    case 'json':
      return loadJson(text);
    case 'csv':
      return loadCsv(text);
    default:
      return loadText(text);
  }
}
