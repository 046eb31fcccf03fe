import type { Usage } from './message.js';

/** One turn as middleware sees it. `message` may be rewritten before `next()` (redaction). */
export interface TurnContext {
  sessionId: string;
  userId: string;
  agentName: string;
  message: string;
  /** Whether the caller is streaming the reply. */
  streaming: boolean;
  signal?: AbortSignal;
  /** Free space for middleware to share data within one turn. */
  metadata: Record<string, unknown>;
}

export interface TurnResult {
  content: string;
  usage?: Usage;
  /** Tool rounds the model ran. */
  toolRounds?: number;
}

/** Onion middleware: work before `next()`, work after it, or answer without calling it. */
export type Middleware = (turn: TurnContext, next: () => Promise<TurnResult>) => Promise<TurnResult>;

/** Runs `handler` inside `middleware`, the first one outermost. */
export function compose(
  middleware: readonly Middleware[],
  handler: (turn: TurnContext) => Promise<TurnResult>,
): (turn: TurnContext) => Promise<TurnResult> {
  return (turn) => {
    const dispatch = (index: number): Promise<TurnResult> => {
      const current = middleware[index];
      if (current === undefined) return handler(turn);
      return current(turn, () => dispatch(index + 1));
    };
    return dispatch(0);
  };
}
