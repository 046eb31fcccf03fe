import { basename, resolve } from 'node:path';
import { defineProject } from 'vitest/config';

const root = import.meta.dirname;

/** One vitest project per package: workspace packages resolve to their sources, so tests need no build. */
export function sessionsProject(dir: string): ReturnType<typeof defineProject> {
  return defineProject({
    resolve: {
      alias: [
        {
          find: /^@sessions\/([a-z-]+)$/,
          replacement: resolve(root, 'packages/$1/src/index.ts'),
        },
      ],
    },
    test: {
      name: basename(dir),
      include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
      testTimeout: 30_000,
      hookTimeout: 30_000,
    },
  });
}
