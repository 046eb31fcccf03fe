/**
 * Whether `text` is an absolute http(s) URL: how a plain string given as a knowledge source is
 * told from a path or text (by `@sessions/knowledge`, and by `@sessions/remote-client`, which
 * refuses URLs).
 */
export function isHttpUrl(text: string): boolean {
  if (!/^https?:\/\//i.test(text.trim())) return false;
  try {
    const url = new URL(text.trim());
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
