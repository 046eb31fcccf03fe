import type { Command } from 'commander';
import { formatMemories, formatMemory, formatMemoryHits } from './formatters.js';
import { output } from './output.js';
import { parseLimit } from './parse-limit.js';
import { addTargetOptions, type TargetFlags, withTarget } from './target-options.js';

/** `sessions memory add|search|list`. */
export function memoryCommand(program: Command): Command {
  const memory = program
    .command('memory')
    .description("a session's memory: short facts its agent recalls (add, search, list)");

  addTargetOptions(
    memory.command('add').description('remember a fact').argument('<text...>', 'what to remember'),
  )
    .addHelpText('after', '\nExample:\n  sessions memory add "User prefers technical explanations"')
    .action(async (words: string[], flags: TargetFlags) => {
      const out = output(flags);
      const record = await withTarget(flags, (target) => target.addMemory(words.join(' ')));
      out.result(record, () => formatMemory(record));
    });

  addTargetOptions(
    memory
      .command('search')
      .description('memories relevant to a query, best first')
      .argument('<query...>', 'what to look for')
      .option('-n, --limit <n>', 'most results', parseLimit, 5),
  )
    .addHelpText('after', '\nExample:\n  sessions memory search preferences --json')
    .action(async (words: string[], flags: TargetFlags & { limit: number }) => {
      const out = output(flags);
      const hits = await withTarget(flags, (target) => target.searchMemory(words.join(' '), flags.limit));
      out.result(hits, () => formatMemoryHits(hits));
    });

  addTargetOptions(memory.command('list').description('every memory of the session, oldest first')).action(
    async (flags: TargetFlags) => {
      const out = output(flags);
      const records = await withTarget(flags, (target) => target.listMemory());
      out.result(records, () => formatMemories(records));
    },
  );
  return memory;
}
