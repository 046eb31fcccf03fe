import type { Middleware, TurnContext } from '@sessions/core';
import { aFunction, checkOption } from './check-option.js';

/**
 * Gets the user message (as sent to the model) and the response; returns the response to keep,
 * or nothing to keep it unchanged. `turn` gives the session, user and agent.
 */
export type AfterResponseHandler = (
  message: string,
  response: string,
  turn: TurnContext,
  // biome-ignore lint/suspicious/noConfusingVoidType: a handler that only observes returns nothing
) => string | void | Promise<string | void>;

/**
 * The reference docs' simple hook: `afterResponse((message, response) => response.trim())`.
 * In streaming mode the deltas were already sent: the returned text is what is stored and returned
 * as the final answer.
 */
export const afterResponse = (handler: AfterResponseHandler): Middleware => {
  checkOption('afterResponse', 'handler', handler, aFunction);
  return async function afterResponse(turn, next) {
    const result = await next();
    const content = await handler(turn.message, result.content, turn);
    return typeof content === 'string' ? { ...result, content } : result;
  };
};
