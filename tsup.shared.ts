import type { Options } from 'tsup';

export interface SessionsTsupOptions {
  /** Entries built beside `src/index.ts` without types of their own, e.g. a command's `src/bin.ts`. */
  bins?: string[];
}

/** The tsup config every package builds with: ESM for Node 20 with source maps, types for `src/index.ts`. */
export function sessionsTsup({ bins = [] }: SessionsTsupOptions = {}): Options {
  return {
    entry: ['src/index.ts', ...bins],
    format: ['esm'],
    dts: { entry: 'src/index.ts', compilerOptions: { paths: {} } },
    tsconfig: 'tsconfig.build.json',
    clean: true,
    sourcemap: true,
    target: 'node20',
  };
}
