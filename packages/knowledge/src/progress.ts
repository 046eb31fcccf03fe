/** A step of ingesting one source. */
export type IngestPhase = 'load' | 'chunk' | 'embed' | 'index';

/**
 * Progress of `Knowledge.add`: `done` of `total` units of the current phase (bytes while loading a
 * URL, chunks while embedding and indexing). A phase reports at least once with `done === total`.
 */
export interface IngestProgress {
  phase: IngestPhase;
  done: number;
  total: number;
  /** The source being added (a path, a URL, a file name, or "text"). */
  source: string;
}

export type ProgressListener = (progress: IngestProgress) => void;
