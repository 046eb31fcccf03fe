import type { KnowledgeDocument } from '@sessions/core';
import type { Command } from 'commander';
import { formatDocument, formatDocuments, formatKnowledgeHits } from './formatters.js';
import { KnowledgeProgress } from './knowledge-progress.js';
import { output } from './output.js';
import { parseLimit } from './parse-limit.js';
import { addTargetOptions, type TargetFlags, withTarget } from './target-options.js';

/** `sessions knowledge add|search|list`. */
export function knowledgeCommand(program: Command): Command {
  const knowledge = program
    .command('knowledge')
    .description("a session's knowledge base: documents its agent cites (add, search, list)");

  addTargetOptions(
    knowledge
      .command('add')
      .description('add files (.txt .md .html .pdf .docx .json .csv ...), with a progress bar')
      .argument('<files...>', 'files to add'),
  )
    .addHelpText('after', '\nExample:\n  sessions knowledge add handbook.md report.pdf')
    .action(async (files: string[], flags: TargetFlags) => {
      const out = output(flags);
      const added: KnowledgeDocument[] = [];
      await withTarget(flags, async (target) => {
        const progress = new KnowledgeProgress({ files: files.length });
        try {
          for (const file of files) {
            progress.next(file);
            added.push(await target.addKnowledge(file, progress.update));
          }
        } finally {
          progress.stop();
        }
      });
      out.result(added, () => added.map(formatDocument).join('\n'));
    });

  addTargetOptions(
    knowledge
      .command('search')
      .description('passages relevant to a query, best first, with citations')
      .argument('<query...>', 'what to look for')
      .option('-n, --limit <n>', 'most results', parseLimit, 5),
  )
    .addHelpText('after', '\nExample:\n  sessions knowledge search "paid leave" --limit 3')
    .action(async (words: string[], flags: TargetFlags & { limit: number }) => {
      const out = output(flags);
      const hits = await withTarget(flags, (target) => target.searchKnowledge(words.join(' '), flags.limit));
      out.result(hits, () => formatKnowledgeHits(hits));
    });

  addTargetOptions(
    knowledge.command('list').description('documents of the session, in the order added'),
  ).action(async (flags: TargetFlags) => {
    const out = output(flags);
    const documents = await withTarget(flags, (target) => target.listKnowledge());
    out.result(documents, () => formatDocuments(documents));
  });
  return knowledge;
}
