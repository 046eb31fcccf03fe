import { resolve } from 'node:path';
import { sessionsProject } from '../../vitest.shared.ts';

const project = sessionsProject(import.meta.dirname);
// @sessions/server is an app, not under packages/: resolve it to its sources before the shared alias.
const aliases = project.resolve?.alias;
if (Array.isArray(aliases)) {
  aliases.unshift({
    find: /^@sessions\/server$/,
    replacement: resolve(import.meta.dirname, '../server/src/index.ts'),
  });
}

// Every test here runs the CLI as child processes, a dozen in a row in some: on a loaded machine
// each start can take seconds, so these get more time than the shared default.
if (project.test) {
  project.test.testTimeout = 120_000;
}

export default project;
