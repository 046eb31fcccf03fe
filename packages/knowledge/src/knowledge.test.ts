import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyvSqlite } from '@keyv/sqlite';
import { type Embedder, type KnowledgeHit, Session, SessionsError } from '@sessions/core';
import { OpenAIEmbedder } from '@sessions/openai';
import { type FakeOpenAI, startFakeOpenAI } from '@sessions/testing';
import { Keyv } from 'keyv';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PrivateAddressError, SourceTooLargeError } from './errors.js';
import { makeDocx, makePdf, startServer, type TestServer, tempDir } from './fixtures.test-helper.js';
import { Knowledge } from './knowledge.js';
import type { IngestProgress } from './progress.js';

const open: Knowledge[] = [];
const dirs: (() => void)[] = [];

function knowledge(options: ConstructorParameters<typeof Knowledge>[0] = {}): Knowledge {
  const kb = new Knowledge(options);
  open.push(kb);
  return kb;
}

function folder(): string {
  const { dir, cleanup } = tempDir();
  dirs.push(cleanup);
  return dir;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((kb) => kb.close().catch(() => undefined)));
});
afterAll(() => {
  for (const cleanup of dirs) cleanup();
});

function expectScores(hits: KnowledgeHit[]): void {
  for (const hit of hits) {
    expect(hit.score).toBeGreaterThan(0);
    expect(hit.score).toBeLessThanOrEqual(1);
  }
  const scores = hits.map((hit) => hit.score);
  expect(scores).toEqual([...scores].sort((a, b) => b - a));
}

const PAPER_PAGES = [
  ['Efficiency of Language Models', '', 'We study how assistants change office work.'],
  ['Method', '', 'Two hundred teams took part for six months.'],
  ['Results', '', 'Important finding: AI improves efficiency by 40 percent', 'in document drafting tasks.'],
];

describe('Knowledge: the reference examples through a Session', () => {
  it('adds a PDF by path and text by string, and searches both', async () => {
    const dir = folder();
    const pdfPath = join(dir, 'research_paper.pdf');
    writeFileSync(pdfPath, await makePdf(PAPER_PAGES, 'Efficiency of Language Models'));
    const session = new Session({ sessionId: 'chat_123', userId: 'user_456', knowledge: knowledge() });

    const paper = await session.addKnowledge(pdfPath);
    expect(paper).toMatchObject({ source: pdfPath, title: 'Efficiency of Language Models' });
    const note = await session.addKnowledge('Important finding: AI improves efficiency by 40%');
    expect(note).toMatchObject({ source: 'text', chunkCount: 1 });

    const results = await session.searchKnowledge('efficiency improvements');
    expect(results.length).toBeGreaterThanOrEqual(2);
    expectScores(results);
    const fromPaper = results.find((hit) => hit.documentId === paper.id && hit.text.includes('40 percent'));
    expect(fromPaper).toMatchObject({ source: pdfPath, title: 'Efficiency of Language Models', page: 3 });
    expect(results.some((hit) => hit.documentId === note.id)).toBe(true);

    const context = await session.buildContext('efficiency improvements');
    expect(context).toContain('Relevant knowledge:');
    expect(context).toContain('40');
  });
});

describe('Knowledge: loading and citing', () => {
  it('cites page numbers of a multi-page PDF', async () => {
    const kb = knowledge();
    const bytes = await makePdf([
      ['Chapter one: turbines', '', 'Steam turbines convert heat into rotation.'],
      ['Chapter two: generators', '', 'Generators convert rotation into electricity.'],
      ['Chapter three: transformers', '', 'Transformers step voltage up for transmission lines.'],
      ['Chapter four: consumers', '', 'Households use the electricity at low voltage.'],
    ]);
    const doc = await kb.add(bytes, { filename: 'grid.pdf' });
    expect(doc).toMatchObject({ source: 'grid.pdf', title: 'grid.pdf', chunkCount: 4 });
    const [hit] = await kb.search('transmission lines voltage', { limit: 1 });
    expect(hit).toMatchObject({ documentId: doc.id, page: 3, chunkIndex: 2 });
    expect(hit!.text).toContain('Transformers step voltage up');
    const pages = (await kb.search('rotation', { limit: 10 })).slice(0, 2).map((h) => h.page);
    expect(pages.sort()).toEqual([1, 2]);
  });

  it('reads a real .docx with its headings', async () => {
    const kb = knowledge();
    const dir = folder();
    const path = join(dir, 'report.docx');
    writeFileSync(
      path,
      await makeDocx('Quarterly Report', [
        { heading: 'Revenue', paragraphs: ['Revenue grew by twelve percent thanks to exports.'] },
        { heading: 'Staffing', paragraphs: ['We hired four engineers and one designer.'] },
      ]),
    );
    const doc = await kb.add({ path });
    expect(doc).toMatchObject({ title: 'Quarterly Report', source: path });
    const [hit] = await kb.search('engineers hired', { limit: 1 });
    expect(hit).toMatchObject({ documentId: doc.id, title: 'Quarterly Report' });
    expect(hit!.text).toContain('four engineers');
    expect(hit!.page).toBeUndefined();
  });

  it('titles a document by the title option over the loader, for a path and for bytes', async () => {
    const dir = folder();
    const path = join(dir, 'notes.md');
    writeFileSync(path, '# Draft heading\n\nSwifts sleep while flying over the sea.');
    const kb = knowledge({ path: join(dir, 'kb') });
    const doc = await kb.add(path, { title: '  Bird notes  ' });
    expect(doc).toMatchObject({ title: 'Bird notes', source: path });
    const bytes = await kb.add(new TextEncoder().encode('Octopuses have three hearts.'), {
      filename: 'octopus.txt',
      title: 'Octopus facts',
    });
    expect(bytes).toMatchObject({ title: 'Octopus facts', source: 'octopus.txt' });
    const blank = await kb.add({ text: 'Bees pollinate orchards.', title: 'Bees' }, { title: ' ' });
    expect(blank.title).toBe('Bees');
    expect((await kb.search('swifts sleep', { limit: 1 }))[0]).toMatchObject({ title: 'Bird notes' });
    expect((await kb.search('three hearts', { limit: 1 }))[0]).toMatchObject({ title: 'Octopus facts' });
    await kb.close();
    const reopened = knowledge({ path: join(dir, 'kb') });
    expect((await reopened.list()).map((d) => d.title).sort()).toEqual([
      'Bees',
      'Bird notes',
      'Octopus facts',
    ]);
    const error = await reopened
      .add('More text', { title: 7 as unknown as string })
      .catch((e: unknown) => e as SessionsError);
    expect(SessionsError.is(error) && error.code).toBe('invalid_input');
  });

  it('loads .txt, .md, .html, .json and .csv files; offsets point into the text', async () => {
    const kb = knowledge({ chunkSize: 200, chunkOverlap: 40 });
    const dir = folder();
    const files: Record<string, string> = {
      'notes.txt': `Alpine lakes freeze in winter.\r\n\r\n${'Filler sentence about nothing much. '.repeat(12)}\r\n\r\nGlaciers carve valleys over millennia.`,
      'guide.md':
        '# Setup Guide\n\n## Installing\n\nRun the installer twice.\n\n## Removing\n\nDelete the folder.',
      'page.html':
        '<html><head><title>Bird Facts</title></head><body><p>Swifts sleep while flying.</p></body></html>',
      'people.json': JSON.stringify({ people: [{ name: 'Ada Lovelace', field: 'mathematics' }] }),
      'cities.csv': 'city,river\nParis,Seine\nCairo,Nile\n',
    };
    for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
    for (const name of Object.keys(files)) await kb.add(join(dir, name));
    expect((await kb.list()).map((doc) => doc.title)).toEqual([
      'notes.txt',
      'Setup Guide',
      'Bird Facts',
      'people.json',
      'cities.csv',
    ]);

    const text = readFileSync(join(dir, 'notes.txt'), 'utf8').replace(/\r\n/g, '\n');
    const [glacier] = await kb.search('glaciers valleys', { limit: 1 });
    expect(glacier!.source).toBe(join(dir, 'notes.txt'));
    expect(text.slice(glacier!.start, glacier!.end)).toBe(glacier!.text);
    expect(glacier!.chunkIndex).toBeGreaterThan(0);

    const md = files['guide.md']!;
    const [install] = await kb.search('installer', { limit: 1 });
    expect(install!.title).toBe('Setup Guide');
    expect(md.slice(install!.start, install!.end)).toBe(install!.text);
    expect(install!.text).toContain('## Installing');
    expect(install!.text).not.toContain('Delete the folder');

    expect((await kb.search('swifts sleep', { limit: 1 }))[0]!.title).toBe('Bird Facts');
    expect((await kb.search('Lovelace', { limit: 1 }))[0]!.text).toContain('name: Ada Lovelace');
    expect((await kb.search('Nile', { limit: 1 }))[0]!.text).toContain('city: Cairo\nriver: Nile');
  });

  it('refuses unknown, unreadable and missing files with typed errors and adds nothing', async () => {
    const keyv = new Keyv();
    const kb = knowledge({ keyv });
    const dir = folder();
    writeFileSync(join(dir, 'image.bmp'), Buffer.from([0x42, 0x4d, 0, 0]));
    writeFileSync(join(dir, 'broken.pdf'), 'not really a pdf');
    writeFileSync(join(dir, 'broken.docx'), 'not really a docx');
    writeFileSync(join(dir, 'broken.json'), '{"a": ');
    for (const name of ['image.bmp', 'broken.pdf', 'broken.docx', 'broken.json']) {
      const error = await kb.add(join(dir, name)).catch((e: unknown) => e);
      expect(SessionsError.is(error) && error.code).toBe('invalid_input');
      expect((error as Error).message).toContain(join(dir, name));
    }
    await expect(kb.add({ path: join(dir, 'missing.txt') })).rejects.toMatchObject({
      code: 'not_found',
      message: expect.stringContaining('missing.txt'),
    });
    await expect(kb.add('missing_report.pdf')).rejects.toMatchObject({ code: 'not_found' });
    expect(await kb.list()).toEqual([]);
    const keys: string[] = [];
    for await (const [key] of keyv.iterator!(undefined)) keys.push(String(key));
    expect(keys).toEqual([]);
  });
});

describe('Knowledge: URLs', () => {
  let server: TestServer;
  beforeAll(async () => {
    const pdf = await makePdf([['Served PDF page one.'], ['Served PDF page two mentions zeppelins.']]);
    server = await startServer((request, response) => {
      if (request.url === '/article') {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end('<title>Airships</title><h1>Airships</h1><p>Zeppelins used hydrogen for lift.</p>');
      } else if (request.url === '/paper') {
        response.writeHead(200, { 'content-type': 'application/pdf' }).end(pdf);
      } else if (request.url === '/moved') {
        response.writeHead(301, { location: '/article' }).end();
      } else if (request.url === '/huge') {
        response.writeHead(200, { 'content-type': 'text/plain' }).end('z'.repeat(10_000));
      } else {
        response.writeHead(404).end();
      }
    });
  });
  afterAll(() => server.close());

  it('fetches and loads by content type, citing the URL', async () => {
    const kb = knowledge({ allowPrivateNetwork: true });
    const article = await kb.add(`${server.url}/article`);
    expect(article).toMatchObject({ source: `${server.url}/article`, title: 'Airships' });
    const paper = await kb.add({ url: `${server.url}/paper` });
    const hits = (await kb.search('zeppelins', { limit: 5 })).slice(0, 2);
    expect(hits.map((hit) => hit.documentId).sort()).toEqual([article.id, paper.id].sort());
    expect(hits.find((hit) => hit.documentId === paper.id)).toMatchObject({
      page: 2,
      source: `${server.url}/paper`,
    });
    expect(await kb.add(`${server.url}/moved`)).toEqual(article); // same content: the same document
  });

  it('refuses loopback URLs unless allowPrivateNetwork is set', async () => {
    const before = server.requests.length;
    const kb = knowledge();
    await expect(kb.add(`${server.url}/article`)).rejects.toBeInstanceOf(PrivateAddressError);
    await expect(
      kb.add({ url: `http://localhost:${new URL(server.url).port}/article` }),
    ).rejects.toMatchObject({
      code: 'forbidden',
    });
    expect(server.requests.length).toBe(before);
    expect(await kb.list()).toEqual([]);
  });

  it('refuses bodies over maxBytes', async () => {
    const kb = knowledge({ allowPrivateNetwork: true, maxBytes: 1000 });
    await expect(kb.add(`${server.url}/huge`)).rejects.toBeInstanceOf(SourceTooLargeError);
    await expect(kb.add(`${server.url}/nothing-here`)).rejects.toMatchObject({ code: 'not_found' });
    expect(await kb.list()).toEqual([]);
  });
});

describe('Knowledge: documents', () => {
  it('derives ids from content; re-adding the same content is a no-op', async () => {
    let tick = 0;
    const kb = knowledge({ now: () => new Date(Date.UTC(2026, 0, 1, 0, 0, tick++)) });
    const first = await kb.add({ text: 'Octopuses have three hearts.', title: 'Octopus' });
    expect(first.id).toMatch(/^doc_[0-9a-f]{32}$/);
    const again = await kb.add('Octopuses have three hearts.');
    expect(again).toEqual(first);
    expect(await kb.list()).toHaveLength(1);
    expect(await kb.get(first.id)).toEqual(first);
  });

  it('names documents by id and replaces a document re-added under its id with new content', async () => {
    const kb = knowledge();
    const v1 = await kb.add({ text: 'The launch is on Monday.' }, { id: 'plan', metadata: { version: 1 } });
    expect(v1).toMatchObject({ id: 'plan', metadata: { version: 1 } });
    const v2 = await kb.add(
      { text: 'The launch moved to Friday.' },
      { id: 'plan', metadata: { version: 2 } },
    );
    expect(v2).toMatchObject({ id: 'plan', metadata: { version: 2 } });
    expect(await kb.list()).toHaveLength(1);
    expect(await kb.search('Monday')).toEqual([]);
    expect((await kb.search('Friday'))[0]).toMatchObject({ documentId: 'plan' });
    await expect(kb.add('x', { id: '../evil' })).rejects.toMatchObject({ code: 'invalid_input' });
  });

  it('removes a document with every chunk', async () => {
    const kb = knowledge({ chunkSize: 100, chunkOverlap: 20 });
    const long = Array.from({ length: 12 }, (_, i) => `Penguin fact ${i} is about penguins.`).join(' ');
    const doc = await kb.add(long);
    const other = await kb.add('Seals also live in Antarctica.');
    expect(doc.chunkCount).toBeGreaterThan(3);
    expect(await kb.remove(doc.id)).toBe(true);
    expect(await kb.search('penguins', { limit: 50 })).toEqual([]);
    expect(await kb.remove(doc.id)).toBe(false);
    expect((await kb.list()).map((d) => d.id)).toEqual([other.id]);
  });

  it('validates options and queries', async () => {
    expect(() => new Knowledge({ keyv: new Keyv(), path: folder() })).toThrow(/not both/);
    expect(() => new Knowledge({ chunkSize: 10 })).toThrow(/chunkSize/);
    expect(() => new Knowledge({ chunkSize: 200, chunkOverlap: 150 })).toThrow(/chunkOverlap/);
    const kb = knowledge();
    await kb.add('Some content about rivers.');
    expect(await kb.search('   ')).toEqual([]);
    await expect(kb.search('rivers', { limit: 0 })).rejects.toMatchObject({ code: 'invalid_input' });
    await expect(kb.add({ text: '' })).rejects.toMatchObject({ code: 'invalid_input' });
    const controller = new AbortController();
    controller.abort();
    await expect(kb.add('More text.', { signal: controller.signal })).rejects.toThrow();
    expect(await kb.list()).toHaveLength(1);
  });

  it('reports progress of every phase, to the constructor and to the add', async () => {
    const global: IngestProgress[] = [];
    const local: IngestProgress[] = [];
    const kb = knowledge({
      onProgress: (event) => global.push(event),
      embedder: wordEmbedder(),
      embedBatchSize: 2,
      chunkSize: 100,
      chunkOverlap: 0,
    });
    const dir = folder();
    const path = join(dir, 'long.txt');
    writeFileSync(
      path,
      Array.from({ length: 10 }, (_, i) => `Paragraph ${i} about progress bars.`).join('\n\n'),
    );
    const doc = await kb.add(path, { onProgress: (event) => local.push(event) });
    expect(local).toEqual(global);
    expect(new Set(local.map((event) => event.source))).toEqual(new Set([path]));
    const phases = [...new Set(local.map((event) => event.phase))];
    expect(phases).toEqual(['load', 'chunk', 'embed', 'index']);
    for (const phase of phases) {
      const last = local.filter((event) => event.phase === phase).at(-1)!;
      expect(last.done).toBe(last.total);
    }
    const embeds = local.filter((event) => event.phase === 'embed').map((event) => event.done);
    expect(embeds).toEqual([0, 2, 4, doc.chunkCount].slice(0, embeds.length));
    expect(embeds.length).toBe(Math.ceil(doc.chunkCount / 2) + 1);
  });

  it('adds concurrently without losing a document', async () => {
    const dir = folder();
    const kb = knowledge({ path: dir });
    const docs = await Promise.all(
      Array.from({ length: 8 }, (_, i) => kb.add({ text: `Concurrent document number ${i}.` })),
    );
    expect(new Set(docs.map((doc) => doc.id)).size).toBe(8);
    await kb.close();
    const again = knowledge({ path: dir });
    expect((await again.list()).map((doc) => doc.id).sort()).toEqual(docs.map((doc) => doc.id).sort());
  });
});

describe('Knowledge: persistence', () => {
  it('finds everything again through a new Knowledge on the same path', async () => {
    const dir = folder();
    const kb = knowledge({ path: dir });
    const pdf = await kb.add(await makePdf(PAPER_PAGES), { filename: 'paper.pdf' });
    const note = await kb.add(
      { text: 'Coffee improves focus for an hour.', title: 'Coffee' },
      { id: 'coffee' },
    );
    const before = await kb.search('efficiency');
    await kb.close();

    const reopened = knowledge({ path: dir });
    expect(await reopened.list()).toEqual([pdf, note]);
    expect(await reopened.search('efficiency')).toEqual(before);
    expect((await reopened.search('coffee focus'))[0]).toMatchObject({
      documentId: 'coffee',
      title: 'Coffee',
    });
    expect(await reopened.remove('coffee')).toBe(true);
    await reopened.close();

    const third = knowledge({ path: dir });
    expect((await third.list()).map((doc) => doc.id)).toEqual([pdf.id]);
    expect(await third.search('coffee')).toEqual([]);
  });

  it('rebuilds a missing or stale index snapshot from the stored chunks', async () => {
    const keyv = new Keyv();
    const first = knowledge({ keyv, snapshotDelayMs: 60_000 });
    await first.add('Volcanoes form at plate boundaries.');
    await first.flush(); // snapshot holds the volcano document only
    await first.add('Earthquakes also happen at plate boundaries.');
    // no flush: the snapshot is stale, as after a crash
    const second = knowledge({ keyv });
    const hits = await second.search('plate boundaries', { limit: 5 });
    expect(hits).toHaveLength(2);
    await keyv.delete('kb:index');
    const third = knowledge({ keyv });
    expect(await third.search('plate boundaries', { limit: 5 })).toEqual(hits);
  });

  it('ignores orphans of an interrupted add: a document is there only once the catalog lists it', async () => {
    const keyv = new Keyv();
    const kb = knowledge({ keyv });
    const kept = await kb.add('Kept document about tides.');
    // what a crash between "chunks and record written" and "catalog written" leaves behind:
    await keyv.set('kb:doc:ghost', { ...(await keyv.get(`kb:doc:${kept.id}`)), id: 'ghost' });
    await keyv.set('kb:chunks:ghost:deadbeefdeadbeef', [{ start: 0, end: 5, text: 'ghost', headings: [] }]);
    const reopened = knowledge({ keyv });
    expect((await reopened.list()).map((doc) => doc.id)).toEqual([kept.id]);
    expect(await reopened.search('ghost')).toEqual([]);
  });

  it('reports a damaged catalog or missing chunks as SessionCorruptError', async () => {
    const keyv = new Keyv();
    await keyv.set('kb:catalog', { not: 'a list' });
    await expect(knowledge({ keyv }).list()).rejects.toMatchObject({ code: 'session_corrupt' });

    const other = new Keyv();
    const doc = await knowledge({ keyv: other }).add('Chunks that will go missing.');
    for await (const [key] of other.iterator!(undefined)) {
      if (String(key).startsWith('kb:chunks:') || String(key) === 'kb:index') await other.delete(String(key));
    }
    await expect(knowledge({ keyv: other }).search('chunks')).rejects.toMatchObject({
      code: 'session_corrupt',
      message: expect.stringContaining(doc.id),
    });
  });
});

describe('Knowledge: damaged storage', () => {
  /** Writes `value` as it is (not serialized) at `key` of the SQLite file in `dir`. */
  async function writeRaw(dir: string, key: string, value: string): Promise<void> {
    const sqlite = new KeyvSqlite({ uri: `sqlite://${join(dir, 'knowledge.sqlite')}` });
    await sqlite.set(key, value);
    await sqlite.disconnect();
  }

  async function storeWith(
    text: string,
    embedder?: Embedder,
  ): Promise<{ dir: string; id: string; hash: string }> {
    const dir = folder();
    const kb = new Knowledge({ path: dir, ...(embedder && { embedder }) });
    const doc = await kb.add(text);
    await kb.close();
    const sqlite = new KeyvSqlite({ uri: `sqlite://${join(dir, 'knowledge.sqlite')}` });
    const keyv = new Keyv({ store: sqlite, namespace: 'knowledge' });
    const record = await keyv.get<{ hash: string }>(`kb:doc:${doc.id}`);
    await keyv.disconnect();
    return { dir, id: doc.id, hash: record!.hash };
  }

  async function failure(promise: Promise<unknown>): Promise<unknown> {
    return promise.then(
      () => expect.unreachable('resolved'),
      (error: unknown) => error,
    );
  }

  it('reports a catalog, record or chunks that are not JSON as SessionCorruptError naming file and key', async () => {
    const keys = (id: string, hash: string) => [
      'kb:catalog',
      `kb:doc:${id}`,
      `kb:chunks:${id}:${hash.slice(0, 16)}`,
    ];
    for (const at of [0, 1, 2]) {
      const { dir, id, hash } = await storeWith('A document about tides and the moon.');
      const key = keys(id, hash)[at]!;
      await writeRaw(dir, 'knowledge:kb:index', 'garbage'); // a damaged snapshot: rebuilt from the chunks
      await writeRaw(dir, `knowledge:${key}`, 'garbage');
      for (const read of [(kb: Knowledge) => kb.search('tides'), (kb: Knowledge) => kb.list()]) {
        const error = await failure(read(knowledge({ path: dir })));
        expect(SessionsError.is(error) && error.code).toBe('session_corrupt');
        expect(error).toMatchObject({
          file: join(dir, 'knowledge.sqlite'),
          message: expect.stringContaining(key),
        });
        expect((error as Error).cause).toBeInstanceOf(SyntaxError);
      }
    }
  });

  it('rebuilds the index when its snapshot is not JSON, and re-embeds when embeddings are not', async () => {
    const text = 'The harbour closes at dusk in winter.';
    const { dir, id, hash } = await storeWith(text, wordEmbedder());
    await writeRaw(dir, 'knowledge:kb:index', '{"schema":1,');
    await writeRaw(dir, `knowledge:kb:emb:${id}:${hash.slice(0, 16)}`, '{"model":');
    const embedded: string[] = [];
    const counting: Embedder = {
      dimensions: 16,
      embed: (texts) => {
        embedded.push(...texts);
        return wordEmbedder().embed(texts);
      },
    };
    const kb = knowledge({ path: dir, embedder: counting });
    expect((await kb.search('harbour dusk'))[0]?.text).toBe(text);
    expect(embedded).toEqual([expect.stringContaining(text), 'harbour dusk']);
  });

  it('reports a knowledge.sqlite that is not a database as SessionCorruptError naming the file', async () => {
    const dir = folder();
    const file = join(dir, 'knowledge.sqlite');
    writeFileSync(file, 'these are notes, not a SQLite database\n'.repeat(100));
    const error = await failure(knowledge({ path: dir }).list());
    expect(SessionsError.is(error) && error.code).toBe('session_corrupt');
    expect(error).toMatchObject({ file, message: expect.stringContaining(file) });
  });
});

describe('Knowledge: hybrid search with an embedder', () => {
  let server: FakeOpenAI;
  beforeAll(async () => {
    server = await startFakeOpenAI({ dimensions: 32 });
  });
  afterAll(() => server.close());

  it('embeds chunks once, stores the vectors and fuses vector and lexical rankings', async () => {
    const embedder = new OpenAIEmbedder({ baseURL: server.url, apiKey: server.apiKey, model: 'fake-embed' });
    const dir = folder();
    const kb = knowledge({ path: dir, embedder });
    await kb.add({ text: 'Bees pollinate apple orchards in spring.', title: 'Bees' });
    await kb.add({ text: 'Rust prevents data races at compile time.', title: 'Rust' });
    expect(server.embeddingRequests()).toHaveLength(2);

    const hits = await kb.search('apple orchards', { limit: 2 });
    expect(hits[0]).toMatchObject({ title: 'Bees' });
    expectScores(hits);
    expect(server.embeddingRequests()).toHaveLength(3); // the query
    await kb.close();

    const reopened = knowledge({
      path: dir,
      embedder: new OpenAIEmbedder({ baseURL: server.url, apiKey: server.apiKey, model: 'fake-embed' }),
    });
    expect((await reopened.search('compile time data races', { limit: 1 }))[0]).toMatchObject({
      title: 'Rust',
    });
    expect(server.embeddingRequests()).toHaveLength(4); // only the query: chunks were not embedded again
  });

  it('finds by meaning what no query word matches', async () => {
    const kb = knowledge({ embedder: synonymEmbedder() });
    await kb.add({ text: 'The automobile would not start this morning.' });
    await kb.add({ text: 'Tomatoes need full sun.' });
    const [hit] = await kb.search('car trouble', { limit: 1 });
    expect(hit?.text).toContain('automobile');
  });

  it('adds nothing when the embedder fails', async () => {
    const keyv = new Keyv();
    const failing: Embedder = {
      dimensions: 4,
      embed: async () => {
        throw new Error('embedding service down');
      },
    };
    const kb = knowledge({ keyv, embedder: failing });
    await expect(kb.add('Anything at all.')).rejects.toThrow('embedding service down');
    expect(await kb.list()).toEqual([]);
    const keys: string[] = [];
    for await (const [key] of keyv.iterator!(undefined)) keys.push(String(key));
    expect(keys).toEqual([]);
  });
});

/** A deterministic embedder: a bag of words hashed into 16 dimensions. */
function wordEmbedder(): Embedder {
  return {
    dimensions: 16,
    embed: async (texts) =>
      texts.map((text) => {
        const vector = new Float32Array(16);
        for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
          vector[[...word].reduce((sum, char) => sum + char.charCodeAt(0), 0) % 16]! += 1;
        }
        return vector;
      }),
  };
}

/** A tiny "semantic" embedder: words of one concept share a dimension. */
function synonymEmbedder(): Embedder {
  const concepts = [
    ['car', 'automobile', 'start', 'trouble', 'engine'],
    ['tomatoes', 'sun', 'garden', 'plants'],
  ];
  return {
    dimensions: concepts.length + 1,
    embed: async (texts) =>
      texts.map((text) => {
        const vector = new Float32Array(concepts.length + 1);
        vector[concepts.length] = 0.01;
        for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
          concepts.forEach((words, index) => {
            if (words.includes(word)) vector[index]! += 1;
          });
        }
        return vector;
      }),
  };
}
