import { basename } from 'node:path';
import type { IngestProgress } from '@sessions/knowledge';
import { Presets, SingleBar } from 'cli-progress';

/** A progress bar on stderr while files are ingested (shown only on a terminal). */
export class KnowledgeProgress {
  readonly #bar: SingleBar;
  readonly #files: number;
  #file = 0;
  #started = false;

  constructor({ files, stream = process.stderr }: { files: number; stream?: NodeJS.WriteStream }) {
    this.#files = files;
    this.#bar = new SingleBar(
      {
        stream,
        format: '{file} {name} {phase} [{bar}] {value}/{total}',
        hideCursor: true,
        clearOnComplete: true,
        barsize: 24,
      },
      Presets.shades_classic,
    );
  }

  /** Starts the next file. */
  next(path: string): void {
    this.#file += 1;
    const payload = { file: `(${this.#file}/${this.#files})`, name: basename(path), phase: 'load' };
    if (!this.#started) {
      this.#bar.start(1, 0, payload);
      this.#started = true;
    } else {
      this.#bar.setTotal(1);
      this.#bar.update(0, payload);
    }
  }

  /** Knowledge's `onProgress`: one phase (load, chunk, embed, index) at a time. */
  readonly update = (progress: IngestProgress): void => {
    if (!this.#started) return;
    this.#bar.setTotal(Math.max(progress.total, 1));
    this.#bar.update(progress.total === 0 ? 0 : progress.done, { phase: progress.phase });
  };

  stop(): void {
    if (this.#started) this.#bar.stop();
    this.#started = false;
  }
}
