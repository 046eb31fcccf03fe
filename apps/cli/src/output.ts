import pc from 'picocolors';

/** Where commands print: results on stdout, notes on stderr. */
export interface Output {
  /** A result: JSON with `--json`, else the text. */
  result(value: unknown, text: () => string): void;
  /** A line of text on stdout. */
  line(text: string): void;
  /** A note for the person (banners, hints): stderr, so stdout stays parseable. */
  note(text: string): void;
}

export function output({ json = false }: { json?: boolean | undefined } = {}): Output {
  return {
    result(value, text) {
      if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      else {
        const shown = text();
        if (shown !== '') process.stdout.write(`${shown}\n`);
      }
    },
    line(text) {
      process.stdout.write(`${text}\n`);
    },
    note(text) {
      process.stderr.write(`${text}\n`);
    },
  };
}

/** `text` cut to `max` characters on one line. */
export function oneLine(text: string, max = 100): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

export const dim = (text: string): string => pc.dim(text);

/** A score in [0, 1] as two decimals. */
export const score = (value: number): string => value.toFixed(2);
