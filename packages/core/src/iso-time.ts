let lastTime = Number.NaN;
let lastIso = '';

/**
 * `date.toISOString()`, remembered for the last millisecond asked: a busy server stamps several
 * messages and states within one millisecond, and formatting costs more than the rest of a stamp.
 */
export function isoTime(date: Date): string {
  const time = date.getTime();
  if (time !== lastTime) {
    lastIso = date.toISOString();
    lastTime = time;
  }
  return lastIso;
}
