import { extname } from 'node:path';
import type { DocumentType } from './loaded-document.js';

const EXTENSIONS: Record<string, DocumentType> = {
  '.txt': 'text',
  '.text': 'text',
  '.md': 'markdown',
  '.markdown': 'markdown',
  '.html': 'html',
  '.htm': 'html',
  '.xhtml': 'html',
  '.pdf': 'pdf',
  '.docx': 'docx',
  '.json': 'json',
  '.csv': 'csv',
  '.tsv': 'csv',
};

const MEDIA_TYPES: Record<string, DocumentType> = {
  'text/plain': 'text',
  'text/markdown': 'markdown',
  'text/x-markdown': 'markdown',
  'text/html': 'html',
  'application/xhtml+xml': 'html',
  'application/pdf': 'pdf',
  'application/vnd.openxmlformats-officedocument.wordprocessingml.document': 'docx',
  'application/json': 'json',
  'text/json': 'json',
  'text/csv': 'csv',
  'text/tab-separated-values': 'csv',
};

/** The file extensions the loaders read. */
export const SUPPORTED_EXTENSIONS: readonly string[] = Object.keys(EXTENSIONS);

/** The document type a file name's extension names; `undefined` when it has none we know. */
export function typeFromFilename(filename: string): DocumentType | undefined {
  return EXTENSIONS[extname(filename).toLowerCase()];
}

/** Whether a file name has an extension at all (`report.xyz` does, `README` does not). */
export function hasExtension(filename: string): boolean {
  return extname(filename) !== '';
}

/** The document type of an HTTP `Content-Type`; `undefined` for generic or unknown types. */
export function typeFromContentType(contentType: string | null | undefined): DocumentType | undefined {
  if (!contentType) return undefined;
  const media = contentType.split(';')[0]!.trim().toLowerCase();
  return MEDIA_TYPES[media] ?? (media.endsWith('+json') ? 'json' : undefined);
}

/**
 * The type of bytes with no name: PDF and .docx by their signature, otherwise UTF-8 text that
 * is HTML, JSON, Markdown (has `#` headings) or plain text. `undefined` when the bytes are not text.
 */
export function sniffType(bytes: Uint8Array): DocumentType | undefined {
  if (startsWith(bytes, [0x25, 0x50, 0x44, 0x46, 0x2d])) return 'pdf';
  if (startsWith(bytes, [0x50, 0x4b, 0x03, 0x04])) return 'docx';
  const text = decodeUtf8(bytes);
  if (text === undefined) return undefined;
  return sniffText(text);
}

/** The type of a string's content: HTML, JSON, Markdown or plain text. */
export function sniffText(text: string): DocumentType {
  const head = text.slice(0, 1024).trimStart();
  if (/^(<!doctype html|<html[\s>]|<head[\s>]|<body[\s>])/i.test(head)) return 'html';
  if (/^[[{]/.test(head)) {
    try {
      JSON.parse(text);
      return 'json';
    } catch {
      // not JSON after all
    }
  }
  if (/^#{1,6}[ \t]+\S/m.test(text)) return 'markdown';
  return 'text';
}

/** Decodes UTF-8 (dropping a BOM); `undefined` when the bytes are not valid UTF-8 or hold NULs. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    return text.includes('\0') ? undefined : text;
  } catch {
    return undefined;
  }
}

function startsWith(bytes: Uint8Array, signature: number[]): boolean {
  return signature.every((byte, index) => bytes[index] === byte);
}
