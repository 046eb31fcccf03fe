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

// `--no-install` skips install and build (they were done already); the rest goes to the task.
const skipInstall = rest.includes('--no-install');
const args = rest.filter((arg) => arg !== '--no-install');
// Install and build never read the demo's scripted input (`printf 'hello\n/exit\n' | npm run demo`).
const setup = { stdio: [process.stdin.isTTY ? 'inherit' : 'ignore', 'inherit', 'inherit'] };

let pnpmCommand;
const pnpmOnce = () => {
  pnpmCommand ??= pnpm();
  return pnpmCommand;
};

if (!skipInstall) {
  const [bin, ...pre] = pnpmOnce();
  const installArgs = ['install', ...(env.CI ? ['--frozen-lockfile'] : [])];
  must(run(bin, [...pre, ...installArgs], setup), 'pnpm install');
  must(run(bin, [...pre, 'exec', 'turbo', 'run', 'build', '--output-logs=errors-only'], setup), 'build');
}

if (task === 'test') {
  const [bin, ...pre] = pnpmOnce();
  process.exit(run(bin, [...pre, 'exec', 'vitest', 'run', ...args]));
} else if (task === 'demo') {
  // The demo server and a chat connected to it (apps/cli `sessions demo`); the server stops with the chat.
  process.exit(run(process.execPath, [join(root, 'apps/cli/dist/bin.js'), 'demo', ...args]));
} else {
  console.error(`unknown task "${task}": use test or demo`);
  process.exit(2);
}
