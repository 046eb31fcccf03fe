#!/usr/bin/env node
// `npm test` and `npm run demo` on a fresh machine with only Node 20+ and npm: bootstrap pnpm,
// install, build, then run the suite or the demo. Extra arguments go to vitest (test) or the demo.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PNPM_VERSION = '12.4.2';
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [task = 'test', ...rest] = process.argv.slice(2);
const env = { ...process.env };
if (!env.npm_config_nodedir && existsSync('/usr/include/node/node.h')) env.npm_config_nodedir = '/usr';

function run(command, args, options = {}) {
  const result = spawnSync(command, args, { cwd: root, env, stdio: 'inherit', ...options });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function pnpmVersion() {
  try {
    return execFileSync('pnpm', ['--version'], {
      env,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    return undefined;
  }
}

/** The command that runs pnpm 12.4.2: the one on PATH, else a global install, else npx. */
function pnpm() {
  if (pnpmVersion() === PNPM_VERSION) return ['pnpm'];
  console.log(`> installing pnpm ${PNPM_VERSION} (found ${pnpmVersion() ?? 'none'})`);
  if (
    run('npm', ['install', '--global', `pnpm@${PNPM_VERSION}`], { stdio: 'inherit' }) === 0 &&
    pnpmVersion() === PNPM_VERSION
  ) {
    return ['pnpm'];
  }
  return ['npx', '--yes', `pnpm@${PNPM_VERSION}`];
}

function must(status, what) {
  if (status !== 0) {
    console.error(`\n✖ ${what} failed (exit ${status})`);
    process.exit(status);
  }
}

const [bin, ...pre] = pnpm();
const installArgs = ['install', ...(env.CI ? ['--frozen-lockfile'] : [])];
must(run(bin, [...pre, ...installArgs]), 'pnpm install');
must(run(bin, [...pre, 'exec', 'turbo', 'run', 'build', '--output-logs=errors-only']), 'build');

if (task === 'test') {
  process.exit(run(bin, [...pre, 'exec', 'vitest', 'run', ...rest]));
} else if (task === 'demo') {
  process.exit(run(bin, [...pre, '--filter', '@sessions/examples', 'run', 'start', ...rest]));
} else {
  console.error(`unknown task "${task}": use test or demo`);
  process.exit(2);
}
