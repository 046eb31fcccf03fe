import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makePdf, startServer, type TestServer, tempDir } from './fixtures.test-helper.js';
import { type LoadSourceOptions, loadSource } from './load-source.js';
import { defaultLookup } from './private-address.js';

const { dir, cleanup } = tempDir();
let server: TestServer;

beforeAll(async () => {
  server = await startServer((request, response) => {
    if (request.url === '/page') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      response.end('<html><head><title>Served page</title></head><body><p>Served body.</p></body></html>');
    } else if (request.url === '/files/notes.md') {
      response
        .writeHead(200, { 'content-type': 'application/octet-stream' })
        .end('# Notes\n\nFrom the server.');
    } else {
      response.writeHead(404).end();
    }
  });
});
afterAll(async () => {
  await server.close();
  cleanup();
});

const options: LoadSourceOptions = {
  fetch: globalThis.fetch,
  lookup: defaultLookup,
  allowPrivateNetwork: true,
  maxBytes: 1_000_000,
  timeoutMs: 5000,
};

describe('loadSource', () => {
  it('reads a plain string as a URL, an existing path, or text, in that order', async () => {
    const path = join(dir, 'facts.txt');
    writeFileSync(path, 'Water boils at 100 degrees.');
    const fromPath = await loadSource(path, options);
    expect(fromPath).toMatchObject({ source: path, title: 'facts.txt' });
    expect(fromPath.document.text).toBe('Water boils at 100 degrees.');

    const fromUrl = await loadSource(`${server.url}/page`, options);
    expect(fromUrl).toMatchObject({ source: `${server.url}/page`, title: 'Served page' });
    expect(fromUrl.document.text).toBe('Served body.');

    const fromText = await loadSource('Important finding: AI improves efficiency by 40%', options);
    expect(fromText.source).toBe('text');
    expect(fromText.title).toBeUndefined();
    expect(fromText.document.text).toBe('Important finding: AI improves efficiency by 40%');
  });

  it('treats a lone missing file name of a known type as a missing file, not as text', async () => {
    await expect(loadSource('research_paper.pdf', options)).rejects.toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('research_paper.pdf'),
    });
    await expect(loadSource({ path: join(dir, 'nope.txt') }, options)).rejects.toMatchObject({
      code: 'not_found',
    });
  });

  it('names unknown and unreadable files in an invalid_input error', async () => {
    const unknown = join(dir, 'data.xyz');
    writeFileSync(unknown, 'whatever');
    await expect(loadSource({ path: unknown }, options)).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining(unknown),
    });
    const broken = join(dir, 'broken.pdf');
    writeFileSync(broken, 'this is not a pdf');
    await expect(loadSource(broken, options)).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining(broken),
    });
    const binary = join(dir, 'binary.txt');
    writeFileSync(binary, Buffer.from([0xff, 0xfe, 0x00, 0x01]));
    await expect(loadSource(binary, options)).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(loadSource({ path: dir }, options)).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(loadSource(new Uint8Array([0, 1, 2, 255]), options)).rejects.toMatchObject({
      code: 'invalid_input',
    });
  });

  it('loads bytes by file name or by sniffing', async () => {
    const pdf = await makePdf([['Sniffed PDF text.']]);
    const sniffed = await loadSource(pdf, options);
    expect(sniffed.document.type).toBe('pdf');
    expect(sniffed.source).toBe('bytes');
    const named = await loadSource(new TextEncoder().encode('a,b\n1,2'), {
      ...options,
      filename: 'table.csv',
    });
    expect(named).toMatchObject({ source: 'table.csv', title: 'table.csv' });
    expect(named.document.text).toBe('a: 1\nb: 2');
  });

  it('types a URL body by content type, else by the file name in its path', async () => {
    const loaded = await loadSource({ url: `${server.url}/files/notes.md` }, options);
    expect(loaded.document.type).toBe('markdown');
    expect(loaded.title).toBe('Notes');
  });

  it('refuses files larger than maxBytes', async () => {
    const path = join(dir, 'large.txt');
    writeFileSync(path, 'y'.repeat(2000));
    await expect(loadSource(path, { ...options, maxBytes: 1000 })).rejects.toMatchObject({
      code: 'payload_too_large',
    });
  });

  it('rejects empty text and sources of the wrong shape', async () => {
    await expect(loadSource({ text: '   ' }, options)).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(loadSource({ nope: 1 } as never, options)).rejects.toMatchObject({ code: 'invalid_input' });
  });
});
