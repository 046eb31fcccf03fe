import { InvalidInputError, isHttpUrl, NotFoundError } from '@sessions/core';

/**
 * What `addKnowledge` sends. A string is, as with a local `Knowledge`: the path of an existing
 * local file (read here and uploaded; the server never reads its own disk), a `NotFoundError` when
 * it is a lone file name of a supported type that names no file (`report.pdf`), and text otherwise.
 * An http(s) URL is refused: the remote server does not fetch URLs.
 */
export type RemoteKnowledgeSource =
  | string
  | { text: string; title?: string }
  | { path: string; title?: string }
  | { data: Uint8Array | Blob; filename: string; title?: string };

/** A file read for upload. */
export interface KnowledgeUpload {
  blob: Blob;
  filename: string;
}

/**
 * The extensions `@sessions/knowledge` reads (its `SUPPORTED_EXTENSIONS`); a copy, because that
 * package brings PDF and Word parsers a client should not install (a test keeps the two the same).
 */
const FILE_EXTENSIONS: ReadonlySet<string> = new Set([
  '.txt',
  '.text',
  '.md',
  '.markdown',
  '.html',
  '.htm',
  '.xhtml',
  '.pdf',
  '.docx',
  '.json',
  '.csv',
  '.tsv',
]);

/**
 * The bytes to upload for a knowledge source that is a file, or undefined when it is text.
 * Throws `NotFoundError` for a file that does not exist and `InvalidInputError` for a URL.
 */
export async function fileToUpload(source: RemoteKnowledgeSource): Promise<KnowledgeUpload | undefined> {
  if (typeof source === 'string') {
    if (isHttpUrl(source)) throw urlRefused(source.trim());
    if (couldBePath(source)) {
      const file = await readLocalFile(source);
      if (file) return file;
    }
    if (looksLikeFileName(source)) throw missing(source);
    return undefined;
  }
  if (typeof source !== 'object' || source === null) return undefined;
  if ('data' in source) {
    const { data, filename } = source;
    if (typeof filename !== 'string' || filename === '') {
      throw new InvalidInputError('addKnowledge({ data, filename }) needs a filename that tells the type');
    }
    if (!(data instanceof Blob) && !(data instanceof Uint8Array)) {
      throw new InvalidInputError('addKnowledge({ data }) takes a Uint8Array or a Blob');
    }
    return { blob: data instanceof Blob ? data : new Blob([data]), filename };
  }
  if ('path' in source) {
    if (typeof source.path !== 'string' || source.path === '') {
      throw new InvalidInputError('addKnowledge({ path }) takes the path of a local file');
    }
    const file = await readLocalFile(source.path);
    if (!file) throw missing(source.path);
    return file;
  }
  if ('url' in source) {
    throw urlRefused(String((source as { url: unknown }).url));
  }
  return undefined;
}

/** Whether `text` is an absolute http(s) URL (core's rule, shared with `@sessions/knowledge`). */
export { isHttpUrl };

/**
 * Whether `text` is a lone file name of a supported type (`report.pdf`, `./notes.md`): one word
 * whose extension a knowledge loader reads. The rule `@sessions/knowledge` uses.
 */
export function looksLikeFileName(text: string): boolean {
  const trimmed = text.trim();
  return text.length < 1024 && !/\s/.test(trimmed) && FILE_EXTENSIONS.has(extensionOf(trimmed));
}

function extensionOf(name: string): string {
  const base = name.slice(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(dot).toLowerCase() : '';
}

function couldBePath(text: string): boolean {
  return text.length > 0 && text.length <= 4096 && !/[\n\r\0]/.test(text);
}

/** The bytes of a local file, or undefined when `path` names no regular file (or there is no file system). */
async function readLocalFile(path: string): Promise<KnowledgeUpload | undefined> {
  let fs: typeof import('node:fs/promises');
  let basename: (path: string) => string;
  try {
    fs = await import('node:fs/promises');
    ({ basename } = await import('node:path'));
  } catch {
    return undefined;
  }
  const stats = await fs.stat(path).catch(() => undefined);
  if (!stats?.isFile()) return undefined;
  const bytes = await fs.readFile(path);
  return { blob: new Blob([bytes]), filename: basename(path) };
}

function missing(path: string): NotFoundError {
  return new NotFoundError(`addKnowledge: no such file: ${path}`);
}

function urlRefused(url: string): InvalidInputError {
  return new InvalidInputError(
    `addKnowledge(${JSON.stringify(url)}): the remote server does not fetch URLs; download it and ` +
      'pass the bytes as { data, filename }, or pass the path of a local copy',
  );
}
