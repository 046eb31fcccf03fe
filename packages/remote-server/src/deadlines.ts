/** Something with a deadline: `expire` is called once if it is still registered when the deadline passes. */
export interface Expiring {
  expire(): void;
}

interface Bucket {
  /** When the bucket's timer fires (ms, `performance.now()` clock). */
  at: number;
  members: Set<Expiring>;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Deadlines of one length (`ms`), sharing timers: the deadlines that fall within one window of
 * `slackMs` (at most 10 ms, and a twentieth of `ms`) share one `setTimeout`, so a busy server
 * starts about a hundred timers a second instead of one per turn (each costs an insert and a
 * removal in Node's timer lists). A deadline fires at most the window late, never early. Timers
 * do not keep the process alive, and a window whose members all left is cleared.
 */
export class Deadlines {
  readonly #ms: number;
  readonly #slackMs: number;
  #open: Bucket | undefined;

  constructor(ms: number) {
    this.#ms = ms;
    this.#slackMs = Math.min(10, Math.max(0, ms / 20));
  }

  /** Registers `item` to expire in `ms`; the returned function unregisters it. */
  add(item: Expiring): () => void {
    const due = performance.now() + this.#ms;
    let bucket = this.#open;
    if (bucket === undefined || bucket.at < due) {
      if (bucket !== undefined && bucket.members.size === 0) clearTimeout(bucket.timer);
      bucket = this.#start(due);
    }
    const open = bucket;
    open.members.add(item);
    return () => {
      open.members.delete(item);
      if (open.members.size === 0 && open !== this.#open) clearTimeout(open.timer);
    };
  }

  #start(due: number): Bucket {
    const bucket: Bucket = { at: due + this.#slackMs, members: new Set(), timer: undefined };
    this.#open = bucket;
    bucket.timer = setTimeout(() => {
      if (this.#open === bucket) this.#open = undefined;
      const expired = [...bucket.members];
      bucket.members.clear();
      for (const member of expired) member.expire();
    }, this.#ms + this.#slackMs);
    bucket.timer.unref?.();
    return bucket;
  }
}
