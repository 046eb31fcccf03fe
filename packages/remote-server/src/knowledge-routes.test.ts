import { afterEach, describe, expect, it } from 'vitest';
import { safeFilename } from './knowledge-routes.js';
import { TestKnowledge } from './ports.test-helper.js';
import { type Harness, startHarness } from './server-harness.test-helper.js';

let harness: Harness | undefined;
afterEach(async () => {
  await harness?.close();
  harness = undefined;
});

describe('safeFilename', () => {
  it('keeps a plain name and never a path', () => {
    expect(safeFilename('report.txt')).toBe('report.txt');
    expect(safeFilename('../../etc/passwd')).toBe('passwd');
    expect(safeFilename('C:\\Users\\me\\notes.md')).toBe('notes.md');
    expect(safeFilename('..')).toBe('upload');
    expect(safeFilename('')).toBe('upload');
    expect(safeFilename('bad\u0000name.txt')).toBe('badname.txt');
  });
});

describe('knowledge routes', () => {
  it('adds text as JSON and searches it with citations; the agent uses it', async () => {
    const knowledge = new TestKnowledge();
    harness = await startHarness({
      knowledge: () => knowledge,
      agent: { name: 'Research Assistant', knowledge: true },
    });
    const added = await harness.call('/sessions/research/knowledge', {
      json: { text: 'Important finding: AI improves efficiency by 40%', title: 'Findings' },
    });
    expect(added.status).toBe(201);
    expect(added.body).toMatchObject({ id: expect.any(String), title: 'Findings', chunkCount: 1 });
    // Text goes to the knowledge base as text, never as a string it could take for a path or URL.
    expect(knowledge.received[0]!.source).toEqual({
      text: 'Important finding: AI improves efficiency by 40%',
      title: 'Findings',
    });

    const found = await harness.call('/sessions/research/knowledge?q=efficiency%20improvements');
    expect(found.status).toBe(200);
    expect(found.body.results[0]).toMatchObject({
      documentId: added.body.id,
      title: 'Findings',
      chunkIndex: 0,
      text: 'Important finding: AI improves efficiency by 40%',
    });
    const listed = await harness.call('/sessions/research/knowledge');
    expect(listed.body.documents).toHaveLength(1);

    await harness.agent({ message: 'What about efficiency?', session_id: 'research' });
    const system = String(harness.fake.chatRequests()[0]!.body.messages[0]!.content);
    expect(system).toContain('AI improves efficiency by 40%');

    const removed = await harness.request(`/sessions/research/knowledge/${added.body.id}`, {
      method: 'DELETE',
    });
    expect(removed.status).toBe(204);
    expect(
      (await harness.call(`/sessions/research/knowledge/${added.body.id}`, { method: 'DELETE' })).status,
    ).toBe(404);
  });

  it('takes an uploaded file as bytes with its file name (multipart/form-data)', async () => {
    const knowledge = new TestKnowledge();
    harness = await startHarness({ knowledge: () => knowledge });
    const form = new FormData();
    const content = 'Quarterly report.\n\nRevenue grew by 12 percent.';
    form.set('file', new Blob([content], { type: 'text/plain' }), 'q3-report.txt');
    form.set('id', 'q3');
    form.set('title', 'Q3 report');
    const response = await harness.call('/sessions/files/knowledge', { method: 'POST', body: form });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({ id: 'q3', source: 'q3-report.txt', chunkCount: 2 });
    const received = knowledge.received[0]!;
    expect(received.source).toBeInstanceOf(Uint8Array);
    expect(new TextDecoder().decode(received.source as Uint8Array)).toBe(content);
    expect(received.options).toMatchObject({ filename: 'q3-report.txt', id: 'q3', title: 'Q3 report' });
    expect(received.options).not.toHaveProperty('metadata');
    const found = await harness.call('/sessions/files/knowledge?q=revenue');
    expect(found.body.results[0]).toMatchObject({ documentId: 'q3', chunkIndex: 1 });
  });

  it('takes raw bytes with ?filename=, reduced to a plain file name', async () => {
    const knowledge = new TestKnowledge();
    harness = await startHarness({ knowledge: () => knowledge });
    const response = await harness.call('/sessions/raw/knowledge?filename=..%2F..%2Fnotes.md', {
      method: 'POST',
      body: new TextEncoder().encode('# Notes\n\nRaw upload'),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(response.status).toBe(201);
    expect(knowledge.received[0]!.options.filename).toBe('notes.md');
    const unnamed = await harness.call('/sessions/raw/knowledge', {
      method: 'POST',
      body: new Uint8Array([1, 2, 3]),
      headers: { 'content-type': 'application/octet-stream' },
    });
    expect(unnamed.status).toBe(400);
  });

  it('refuses paths, URLs, unknown file types and missing files, loading nothing', async () => {
    const knowledge = new TestKnowledge();
    harness = await startHarness({ knowledge: () => knowledge });
    for (const json of [
      { path: '/etc/passwd' },
      { url: 'http://169.254.169.254/' },
      { text: 'x', path: '/etc' },
    ]) {
      const answer = await harness.call('/sessions/k/knowledge', { json });
      expect(answer.status, JSON.stringify(json)).toBe(400);
      expect(answer.body.error.message).toMatch(/never reads paths or URLs|text/);
    }
    const form = new FormData();
    form.set('file', new Blob([new Uint8Array([0x7f, 0x45, 0x4c, 0x46])]), 'program.exe');
    const unknownType = await harness.call('/sessions/k/knowledge', { method: 'POST', body: form });
    expect(unknownType.status).toBe(400);
    expect(unknownType.body.error.message).toMatch(/Unknown file type/);
    const noFile = new FormData();
    noFile.set('path', '/etc/passwd');
    expect((await harness.call('/sessions/k/knowledge', { method: 'POST', body: noFile })).status).toBe(400);
    expect(knowledge.documents.size).toBe(0);
    expect(
      knowledge.received.every(({ source }) => typeof source !== 'string' && !('path' in Object(source))),
    ).toBe(true);
  });
});
