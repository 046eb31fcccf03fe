import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Deadlines } from './deadlines.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

function item(log: string[], name: string): { expire(): void } {
  return { expire: () => log.push(name) };
}

describe('Deadlines', () => {
  it('expires an item once its time has passed, never before, and at most the window late', () => {
    const deadlines = new Deadlines(1_000);
    const log: string[] = [];
    deadlines.add(item(log, 'a'));
    vi.advanceTimersByTime(999);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(11);
    expect(log).toEqual(['a']);
    vi.advanceTimersByTime(5_000);
    expect(log).toEqual(['a']);
  });

  it('never expires an item removed in time', () => {
    const deadlines = new Deadlines(100);
    const log: string[] = [];
    const stop = deadlines.add(item(log, 'a'));
    deadlines.add(item(log, 'b'));
    vi.advanceTimersByTime(50);
    stop();
    vi.advanceTimersByTime(1_000);
    expect(log).toEqual(['b']);
  });

  it('shares one timer among the deadlines of one window, and clears a window left empty', () => {
    const deadlines = new Deadlines(1_000);
    const log: string[] = [];
    const stops = Array.from({ length: 50 }, (_, i) => deadlines.add(item(log, `early${i}`)));
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(20);
    const late = deadlines.add(item(log, 'late'));
    expect(vi.getTimerCount()).toBe(2);
    for (const stop of stops) stop();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(1_000);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(20);
    expect(log).toEqual(['late']);
    late();
    expect(vi.getTimerCount()).toBe(0);
  });

  it('keeps short deadlines close: the window is at most a twentieth of the time allowed', () => {
    const deadlines = new Deadlines(40);
    const log: string[] = [];
    deadlines.add(item(log, 'a'));
    vi.advanceTimersByTime(39);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(3);
    expect(log).toEqual(['a']);
  });
});
