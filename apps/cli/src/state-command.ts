import { readFile, writeFile } from 'node:fs/promises';
import { NotFoundError } from '@sessions/core';
import type { Command } from 'commander';
import { formatContext, formatState } from './formatters.js';
import { output } from './output.js';
import { parseSessionExport, sessionExport } from './session-export.js';
import { addTargetOptions, type TargetFlags, withTarget } from './target-options.js';

/** `sessions state show|export|import`. */
export function stateCommand(program: Command): Command {
  const state = program
    .command('state')
    .description("a session's state: its context and user state (show, export, import)");

  addTargetOptions(state.command('show').description('the session context and its user state')).action(
    async (flags: TargetFlags) => {
      const out = output(flags);
      const shown = await withTarget(flags, async (target) => ({
        ...(await target.context()),
        state: await target.state(),
      }));
      const { state: data, ...context } = shown;
      out.result(shown, () => `${formatContext(context)}\nstate:\n${formatState(data)}`);
    },
  );

  addTargetOptions(
    state
      .command('export')
      .description('the whole session (context, user state, history) as JSON')
      .option('-o, --output <file>', 'write to this file instead of stdout'),
    { json: false },
  )
    .addHelpText('after', '\nExample:\n  sessions state export --session chat_123 -o chat_123.json')
    .action(async (flags: TargetFlags & { output?: string }) => {
      const data = await withTarget(flags, async (target) =>
        sessionExport(await target.context(), await target.state(), await target.messages()),
      );
      const text = `${JSON.stringify(data, null, 2)}\n`;
      if (flags.output === undefined) process.stdout.write(text);
      else {
        await writeFile(flags.output, text);
        output().note(
          `Exported session ${data.sessionId} (${data.messages.length} messages) to ${flags.output}`,
        );
      }
    });

  addTargetOptions(
    state
      .command('import')
      .description('write an export into a session: history (into a session without any) and user state')
      .argument('<file>', 'a file made by `sessions state export`')
      .option('--state-only', 'import the user state only, not the history'),
  )
    .addHelpText('after', '\nExample:\n  sessions state import chat_123.json --session chat_copy')
    .action(async (file: string, flags: TargetFlags & { stateOnly?: boolean }) => {
      const out = output(flags);
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT')
          throw new NotFoundError(`No such file: ${file}`);
        throw error;
      }
      const data = parseSessionExport(text, file);
      const { messages } = await withTarget(flags, (target) =>
        target.importSession(data, { stateOnly: flags.stateOnly === true }),
      );
      const result = { sessionId: flags.session, messages, state: data.state };
      out.result(
        result,
        () => `Imported ${messages} messages and the user state into session ${flags.session}`,
      );
    });
  return state;
}
