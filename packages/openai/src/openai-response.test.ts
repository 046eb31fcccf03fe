import { describe, expect, it } from 'vitest';
import { ToolCallAssembler, toFinishReason, toUsage } from './openai-response.js';

describe('ToolCallAssembler', () => {
  it('assembles interleaved deltas by index', () => {
    const calls = new ToolCallAssembler();
    calls.add({ index: 0, id: 'a', function: { name: 'f', arguments: '' } });
    calls.add({ index: 1, id: 'b', function: { name: 'g', arguments: '{"y"' } });
    calls.add({ index: 0, function: { arguments: '{"x":' } });
    calls.add({ index: 0, function: { arguments: '1}' } });
    calls.add({ index: 1, function: { arguments: ':2}' } });
    expect(calls.calls()).toEqual([
      { id: 'a', name: 'f', arguments: '{"x":1}' },
      { id: 'b', name: 'g', arguments: '{"y":2}' },
    ]);
  });

  it('follows ids when a server omits the index, and fills in missing ids', () => {
    const calls = new ToolCallAssembler();
    calls.add({ id: 'a', function: { name: 'f', arguments: '{}' } });
    calls.add({ id: 'b', function: { name: 'g' } });
    calls.add({ function: { arguments: '[]' } });
    calls.add({ index: 2, function: { name: 'h', arguments: '1' } });
    const [first, second, third] = calls.calls();
    expect(first).toEqual({ id: 'a', name: 'f', arguments: '{}' });
    expect(second).toEqual({ id: 'b', name: 'g', arguments: '[]' });
    expect(third?.id).toMatch(/^call_/);
    expect(third?.name).toBe('h');
  });
});

describe('toUsage and toFinishReason', () => {
  it('maps usage, computing a missing total', () => {
    expect(toUsage({ prompt_tokens: 2, completion_tokens: 3 })).toEqual({
      inputTokens: 2,
      outputTokens: 3,
      totalTokens: 5,
    });
    expect(toUsage(null)).toBeUndefined();
  });

  it('maps finish reasons', () => {
    expect(toFinishReason('function_call')).toBe('tool_calls');
    expect(toFinishReason('eos')).toBe('other');
    expect(toFinishReason(null)).toBeUndefined();
  });
});
