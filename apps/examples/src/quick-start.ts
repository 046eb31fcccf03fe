// The quick start: a session on disk that remembers across runs. With no OPENAI_API_KEY it talks to
// the fake OpenAI-compatible server of @sessions/testing (offline), and says so.
import { Session } from '@sessions/core';
import { afterResponse } from '@sessions/middleware';
import { OpenAIChatModel } from '@sessions/openai';
import { FsSessionStore } from '@sessions/state-fs';
import { startFakeOpenAI } from '@sessions/testing';

const offline = !process.env.OPENAI_API_KEY;
const fake = offline ? await startFakeOpenAI() : undefined;
if (fake) console.log(`(offline: no OPENAI_API_KEY, answering with the fake model at ${fake.url})\n`);

const model = new OpenAIChatModel({
  model: process.env.OPENAI_MODEL ?? 'gpt-4o-mini',
  ...(fake && { apiKey: fake.apiKey, baseURL: fake.url }),
});
const session = new Session({
  sessionId: 'quick_start',
  userId: 'demo_user',
  store: new FsSessionStore({ root: process.env.SESSIONS_DIR ?? '.sessions' }),
  model,
  middleware: [afterResponse((message, response) => console.log(`you: ${message}\nbot: ${response}\n`))],
});

const visits = await session.incrementState('visits');
console.log(
  `Session ${session.sessionId}, visit ${visits}, ${session.getContext().messageCount} messages so far.\n`,
);

const assistant = session.Agent({ name: 'Assistant', instructions: 'You are a helpful assistant.' });
await assistant.chat(process.argv[2] ?? 'Hello! What were we discussing?');

await session.saveState({ lastRun: new Date().toISOString() });
console.log('Context:', session.getContext());
await fake?.close();
