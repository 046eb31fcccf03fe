// Placeholder: replaced by the fake OpenAI-compatible server.
export type FakeOpenAIOptions = {};
export type FakeReply = {};
export type RecordedRequest = {};
export type FakeOpenAI = {};
export async function startFakeOpenAI(_options?: FakeOpenAIOptions): Promise<FakeOpenAI> {
  throw new Error('not built yet');
}
