import { readFileSync } from 'node:fs';
import * as core from '@sessions/core';
import { describe, expect, it } from 'vitest';
import * as middleware from './index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const packages: Record<string, Record<string, unknown>> = {
  '@sessions/core': core,
  '@sessions/middleware': middleware,
};

/** `[package, name]` for each value (not `import type`) imported in the README's code. */
function readmeImports(): [string, string][] {
  const found: [string, string][] = [];
  for (const [, names, from] of readme.matchAll(/^import \{([^}]*)\} from '([^']+)';$/gm)) {
    for (const name of names!.split(',')) {
      const trimmed = name.trim();
      if (trimmed !== '' && !trimmed.startsWith('type ')) found.push([from!, trimmed]);
    }
  }
  return found;
}

describe('README', () => {
  it('imports each name from the package that exports it', () => {
    const imports = readmeImports();
    expect(imports).toContainEqual(['@sessions/core', 'estimateTokens']);
    for (const [from, name] of imports) {
      expect(packages[from], `README imports from ${from}`).toBeDefined();
      expect(packages[from], `README imports ${name} from ${from}`).toHaveProperty(name);
    }
  });
});
