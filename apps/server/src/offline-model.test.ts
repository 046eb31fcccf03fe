import type { Message } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import { OFFLINE_PREFIX, OfflineModel } from './offline-model.js';

const message = (role: Message['role'], content: string): Message => ({
  id: `${role}-${content.length}`,
  role,
  content,
  createdAt: '2025-01-01T00:00:00.000Z',
});

const prompt = (...sections: string[]): Message =>
  message('system', ['You are Assistant.', 'Answer briefly.', ...sections].join('\n\n'));

describe('OfflineModel', () => {
  it('says it is offline and quotes the memories of the prompt', async () => {
    const model = new OfflineModel();
    const response = await model.generate({
      messages: [
        prompt('Relevant memories:\n- my name is Ada\n- I live in Lisbon'),
        message('user', 'Hi'),
        message('assistant', 'Hello'),
        message('user', 'what is my name?'),
      ],
    });
    expect(response.content.startsWith(OFFLINE_PREFIX)).toBe(true);
    expect(response.content).toContain('You said: "what is my name?"');
    expect(response.content).toContain('• my name is Ada');
    expect(response.content).toContain('• I live in Lisbon');
    expect(response.finishReason).toBe('stop');
  });

  it('quotes knowledge passages with their citations', async () => {
    const model = new OfflineModel();
    const content = model.answer([
      prompt(
        'Relevant memories:\n- likes tea',
        'Relevant knowledge:\n[1] (Handbook, handbook.md, chunk 0)\nEveryone gets 25 days of paid leave.\n\n[2] (Office, chunk 3)\nThe office opens at 9.',
      ),
      message('user', 'how much leave?'),
    ]);
    expect(content).toContain('From the knowledge base:');
    expect(content).toContain('[1] (Handbook, handbook.md, chunk 0) Everyone gets 25 days of paid leave.');
    expect(content).toContain('[2] (Office, chunk 3) The office opens at 9.');
    expect(content).toContain('• likes tea');
  });

  it('leaves out its own earlier answers and the question itself', () => {
    const model = new OfflineModel();
    const earlier = `${OFFLINE_PREFIX} You said: "hi".\nFrom what you told me:\n• my name is Ada`;
    const content = model.answer([
      prompt(`Relevant memories:\n- ${earlier}\n- What is my name?\n- my name is Ada`),
      message('user', 'what is  my name?'),
    ]);
    expect(content.split('\n').filter((line) => line === '• my name is Ada')).toHaveLength(1);
    expect(content).not.toContain('• What is my name?');
    expect(content).not.toContain('You said: "hi"');
  });

  it('says when nothing matches', () => {
    const content = new OfflineModel().answer([prompt(), message('user', 'hello')]);
    expect(content).toContain('I have no memory or knowledge that matches it yet');
    expect(content).not.toContain('From what you told me');
  });

  it('streams the same answer in pieces, then done', async () => {
    const model = new OfflineModel({ prefix: '[offline]' });
    const request = { messages: [prompt('Relevant memories:\n- my name is Ada'), message('user', 'name?')] };
    const deltas: string[] = [];
    let done: string | undefined;
    for await (const event of model.stream(request)) {
      if (event.type === 'delta') deltas.push(event.delta);
      else done = event.response.content;
    }
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join('')).toBe(done);
    expect(done).toBe((await model.generate(request)).content);
    expect(done?.startsWith('[offline]')).toBe(true);
  });

  it('honours an aborted signal', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(
      new OfflineModel().generate({ messages: [message('user', 'hi')], signal: controller.signal }),
    ).rejects.toThrow('stop');
  });
});
