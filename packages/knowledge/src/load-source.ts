import { readFile, stat } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import { InvalidInputError, type KnowledgeSource, NotFoundError } from '@sessions/core';
import { SourceTooLargeError } from './errors.js';
import { fetchUrl, isHttpUrl } from './fetch-url.js';
import {
  hasExtension,
  SUPPORTED_EXTENSIONS,
  sniffText,
  sniffType,
  typeFromContentType,
  typeFromFilename,
} from './loaders/detect-type.js';
import { loadDocument, loadString } from './loaders/load-document.js';
import type { DocumentType, LoadedDocument } from './loaders/loaded-document.js';
import type { HostLookup } from './private-address.js';

export interface LoadSourceOptions {
  filename?: string | undefined;
  signal?: AbortSignal | undefined;
  fetch: typeof globalThis.fetch;
  lookup: HostLookup;
  allowPrivateNetwork: boolean;
  maxBytes: number;
  timeoutMs: number;
  /** Bytes loaded of the expected total (0 while unknown), and the source as it will be cited. */
  onLoad?: (done: number, total: number, source: string) => void;
}

export interface LoadedSource {
  document: LoadedDocument;
  /** What a hit cites as its source: an absolute path, a URL, a file name, "bytes" or "text". */
  source: string;
  /** The document's own title, else its file name. */
  title?: string;
}

/**
 * Loads any `KnowledgeSource`. A plain string is a URL when it parses as an http(s) URL, a path
 * when such a file exists, and text otherwise, except that a lone file name of a supported type
 * that does not exist (`report.pdf`) is a `NotFoundError` rather than a one-word document.
 */
export async function loadSource(source: KnowledgeSource, options: LoadSourceOptions): Promise<LoadedSource> {
  if (typeof source === 'string') {
    if (isHttpUrl(source)) return loadUrl(source.trim(), options);
    if (await isFile(source)) return loadPath(source, options);
    if (looksLikeFileName(source)) throw missing(source);
    return loadText(source, undefined, options);
  }
  if (source instanceof Uint8Array) return loadBytes(source, options);
  if (typeof source === 'object' && source !== null) {
    if ('path' in source && typeof source.path === 'string') return loadPath(source.path, options);
    if ('url' in source && typeof source.url === 'string') return loadUrl(source.url, options);
    if ('text' in source && typeof source.text === 'string') {
      if (source.title !== undefined && typeof source.title !== 'string') {
        throw new InvalidInputError('Knowledge text title must be a string');
      }
      return loadText(source.text, source.title, options);
    }
  }
  throw new InvalidInputError(
    'Cannot add this knowledge source: pass a path, a URL, text, a Uint8Array, { path }, { url } or { text, title? }',
  );
}

async function loadText(
  text: string,
  title: string | undefined,
  options: LoadSourceOptions,
): Promise<LoadedSource> {
  if (text.trim() === '') throw new InvalidInputError('Cannot add empty text to the knowledge base');
  options.onLoad?.(text.length, text.length, 'text');
  const document = loadString(text, sniffText(text) === 'markdown' ? 'markdown' : 'text');
  const chosen = title?.trim() || document.title;
  return chosen ? { document, source: 'text', title: chosen } : { document, source: 'text' };
}

async function loadPath(path: string, options: LoadSourceOptions): Promise<LoadedSource> {
  const absolute = resolve(path);
  let size: number;
  try {
    const info = await stat(absolute);
    if (!info.isFile()) throw new InvalidInputError(`Cannot add ${absolute}: it is not a file`);
    size = info.size;
  } catch (error) {
    if (isMissing(error)) throw missing(absolute, error);
    throw error;
  }
  if (size > options.maxBytes) throw new SourceTooLargeError(absolute, options.maxBytes);
  const known = typeFromFilename(absolute);
  if (!known && hasExtension(absolute)) throw unsupported(absolute);
  options.onLoad?.(0, size, absolute);
  const bytes = await readFile(absolute);
  const type = known ?? sniffType(bytes);
  if (!type) throw unsupported(absolute);
  const document = await loadDocument(bytes, type, absolute);
  options.onLoad?.(size, size, absolute);
  return { document, source: absolute, title: document.title ?? basename(absolute) };
}

async function loadBytes(bytes: Uint8Array, options: LoadSourceOptions): Promise<LoadedSource> {
  const name = options.filename ?? 'bytes';
  let type: DocumentType | undefined;
  if (options.filename !== undefined) {
    type = typeFromFilename(options.filename);
    if (!type && hasExtension(options.filename)) throw unsupported(options.filename);
  }
  type ??= sniffType(bytes);
  if (!type) throw unsupported(name);
  options.onLoad?.(0, bytes.byteLength, name);
  const document = await loadDocument(bytes, type, name);
  options.onLoad?.(bytes.byteLength, bytes.byteLength, name);
  const title = document.title ?? (options.filename ? basename(options.filename) : undefined);
  return title ? { document, source: name, title } : { document, source: name };
}

async function loadUrl(url: string, options: LoadSourceOptions): Promise<LoadedSource> {
  const { onLoad } = options;
  const fetched = await fetchUrl(url, {
    fetch: options.fetch,
    lookup: options.lookup,
    allowPrivateNetwork: options.allowPrivateNetwork,
    maxBytes: options.maxBytes,
    timeoutMs: options.timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(onLoad ? { onBytes: (done: number, total: number) => onLoad(done, total, url) } : {}),
  });
  const path = new URL(fetched.url).pathname;
  const fileName = decodeURIComponent(path.split('/').pop() ?? '');
  const type =
    typeFromContentType(fetched.contentType) ??
    (options.filename ? typeFromFilename(options.filename) : undefined) ??
    typeFromFilename(fileName) ??
    sniffType(fetched.bytes);
  if (!type) throw unsupported(url, fetched.contentType);
  const document = await loadDocument(fetched.bytes, type, url);
  onLoad?.(fetched.bytes.byteLength, fetched.bytes.byteLength, url);
  const title = document.title ?? (fileName || new URL(fetched.url).hostname);
  return { document, source: url, title };
}

async function isFile(text: string): Promise<boolean> {
  if (text.length === 0 || text.length > 4096 || /[\n\r\0]/.test(text)) return false;
  try {
    return (await stat(text)).isFile();
  } catch {
    return false;
  }
}

function looksLikeFileName(text: string): boolean {
  return text.length < 1024 && !/\s/.test(text.trim()) && typeFromFilename(text.trim()) !== undefined;
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function missing(path: string, cause?: unknown): NotFoundError {
  return new NotFoundError(`No such file: ${path}`, cause === undefined ? undefined : { cause });
}

function unsupported(name: string, contentType?: string): InvalidInputError {
  const what = contentType ? ` (content type ${contentType})` : '';
  return new InvalidInputError(
    `Cannot read ${name}${what}: unsupported file type; supported: ${SUPPORTED_EXTENSIONS.join(' ')}`,
  );
}
