/**
 * Shortens `text` to at most `maxLength` UTF-16 units, never splitting a surrogate pair, and says
 * how much was left out: `"hello wo… (+12 chars)"`.
 */
export function truncate(text: string, maxLength: number): string {
  if (text.length <= maxLength) return text;
  let end = Math.max(0, Math.floor(maxLength));
  const last = text.charCodeAt(end - 1);
  if (end > 0 && last >= 0xd800 && last <= 0xdbff) end -= 1;
  return `${text.slice(0, end)}… (+${text.length - end} chars)`;
}
