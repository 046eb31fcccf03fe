#!/usr/bin/env node
// Runs every benchmark of this folder in turn (or those named: `node run.mjs state-fs search`),
// passing the remaining arguments on (`--data ../shared/datasets`). Build the packages first.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const names = args.filter((arg, i) => !arg.startsWith('--') && !args[i - 1]?.startsWith('--'));
const passed = args.filter((arg) => !names.includes(arg));
const scripts = readdirSync(here)
  .filter(
    (file) =>
      file.endsWith('.mjs') && file !== 'run.mjs' && !file.startsWith('lib-') && !file.startsWith('_'),
  )
  .filter((file) => names.length === 0 || names.some((name) => file.startsWith(name)))
  .sort();
let failed = 0;
for (const script of scripts) {
  console.log(`\n## ${script}\n`);
  const { status } = spawnSync(process.execPath, [join(here, script), ...passed], {
    stdio: 'inherit',
    cwd: here,
  });
  if (status !== 0) failed += 1;
}
process.exit(failed > 0 ? 1 : 0);
