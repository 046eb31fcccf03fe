import type { SessionSummary } from '@sessions/core';
import { createDemoAssembly } from '@sessions/server';
import { type Command, Option } from 'commander';
import { output } from './output.js';
import { addDataOptions, addRemoteOptions, type TargetFlags, withTarget } from './target-options.js';

/** `sessions sessions list|delete`. */
export function sessionsCommand(program: Command): Command {
  const sessions = program.command('sessions').description('the sessions in the data folder (list, delete)');

  addDataOptions(
    sessions
      .command('list')
      .description('every local session, by id')
      .addOption(new Option('-u, --user <id>', 'only the sessions of this user'))
      .option('--json', 'print JSON')
      .option('--debug', 'print stack traces of errors'),
  ).action(async (flags: TargetFlags) => {
    const out = output(flags);
    const assembly = await createDemoAssembly({
      dataDir: flags.dataDir,
      storeUrl: flags.store,
      offline: true,
    });
    const rows: SessionSummary[] = [];
    try {
      for await (const row of assembly.store.list(flags.user !== undefined ? { userId: flags.user } : {})) {
        rows.push(row);
      }
    } finally {
      await assembly.close();
    }
    out.result(rows, () => {
      if (rows.length === 0) return `No sessions in ${assembly.dataDir}.`;
      const width = Math.max(7, ...rows.map((row) => row.sessionId.length));
      const lines = rows.map(
        (row) => `${row.sessionId.padEnd(width)}  ${(row.userId ?? '-').padEnd(16)}  ${row.updatedAt ?? '-'}`,
      );
      return [`${'SESSION'.padEnd(width)}  ${'USER'.padEnd(16)}  UPDATED`, ...lines].join('\n');
    });
  });

  addDataOptions(
    addRemoteOptions(
      sessions
        .command('delete')
        .description('delete sessions: history, state, memory and knowledge')
        .argument('<ids...>', 'session ids')
        .option('--json', 'print JSON')
        .option('--debug', 'print stack traces of errors'),
    ),
  )
    .addHelpText('after', '\nExample:\n  sessions sessions delete chat_123 chat_456')
    .action(async (ids: string[], flags: TargetFlags) => {
      const deleted: string[] = [];
      for (const id of ids) {
        await withTarget({ ...flags, session: id }, (target) => target.delete());
        deleted.push(id);
        if (!flags.json) output().line(`Deleted session ${id}`);
      }
      if (flags.json) output(flags).result({ deleted }, () => '');
    });
  return sessions;
}
