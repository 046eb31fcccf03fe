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

export default project;
