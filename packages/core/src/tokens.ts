/** A rough token count (about four characters a token), enough to keep prompts within a budget. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}
