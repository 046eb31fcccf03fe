import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SessionsError } from '@sessions/core';
import { SUPPORTED_EXTENSIONS } from '@sessions/knowledge';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileToUpload, isHttpUrl, looksLikeFileName } from './knowledge-upload.js';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'knowledge-upload-'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (SessionsError.is(error)) return error.code;
    throw error;
  }
  return 'none';
}

describe('looksLikeFileName', () => {
  it('is a lone word with an extension a knowledge loader reads', () => {
    for (const name of ['report.pdf', 'a/b/notes.MD', './x.docx', ' data.csv ', 'C:\\docs\\a.txt']) {
      expect(looksLikeFileName(name)).toBe(true);
    }
    for (const text of [
      'Version2.0',
      'see report.pdf',
      'README',
      '.md',
      'photo.png',
      `${'x'.repeat(1030)}.md`,
    ]) {
      expect(looksLikeFileName(text)).toBe(false);
    }
  });
});

describe('isHttpUrl', () => {
  it('is an http(s) URL with a host', () => {
    expect(isHttpUrl('https://example.com/a.pdf')).toBe(true);
    expect(isHttpUrl(' HTTP://example.com ')).toBe(true);
    expect(isHttpUrl('ftp://example.com/a.pdf')).toBe(false);
    expect(isHttpUrl('http://')).toBe(false);
    expect(isHttpUrl('read https://example.com')).toBe(false);
  });
});

describe('fileToUpload', () => {
  it('reads an existing file named by a string, whatever its name', async () => {
    const file = join(dir, 'notes');
    await writeFile(file, 'plain notes');
    const upload = await fileToUpload(file);
    expect(upload?.filename).toBe('notes');
    expect(await upload?.blob.text()).toBe('plain notes');
  });

  it('is text for a string that is no file name, and for { text }', async () => {
    expect(await fileToUpload('Important finding: AI improves efficiency by 40%')).toBeUndefined();
    expect(await fileToUpload(join(dir, 'no-such-thing'))).toBeUndefined();
    expect(await fileToUpload({ text: 'x', title: 'y' })).toBeUndefined();
  });

  it('throws not_found for a missing file, by string or { path }, and for a directory', async () => {
    expect(await codeOf(fileToUpload(join(dir, 'missing.pdf')))).toBe('not_found');
    expect(await codeOf(fileToUpload({ path: join(dir, 'missing') }))).toBe('not_found');
    expect(await codeOf(fileToUpload({ path: dir }))).toBe('not_found');
  });

  it('throws invalid_input for a URL, a string or { url }', async () => {
    expect(await codeOf(fileToUpload('https://example.com/paper.pdf'))).toBe('invalid_input');
    expect(await codeOf(fileToUpload({ url: 'https://example.com/' } as unknown as { path: string }))).toBe(
      'invalid_input',
    );
  });
});

describe('the file types a client uploads', () => {
  it('are the ones @sessions/knowledge reads (its list is copied, not imported, to keep its parsers out)', () => {
    for (const extension of SUPPORTED_EXTENSIONS)
      expect(looksLikeFileName(`report${extension}`), extension).toBe(true);
    expect(looksLikeFileName('report.exe')).toBe(false);
  });
});
