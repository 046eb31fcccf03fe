import type {
  KnowledgeDocument,
  KnowledgeHit,
  MemoryHit,
  MemoryRecord,
  Message,
  SessionContext,
} from '@sessions/core';
import { oneLine, score } from './output.js';

export function formatMemory(record: MemoryRecord): string {
  return `Remembered (${record.id}): ${record.text}`;
}

export function formatMemoryHits(hits: readonly MemoryHit[]): string {
  if (hits.length === 0) return 'No memory matches.';
  return hits.map((hit) => `${score(hit.score)}  ${oneLine(hit.text, 200)}`).join('\n');
}

export function formatMemories(records: readonly MemoryRecord[]): string {
  if (records.length === 0) return 'No memories yet.';
  return records.map((record) => `${record.createdAt}  ${oneLine(record.text, 200)}`).join('\n');
}

export function formatDocument(doc: KnowledgeDocument): string {
  return `Added ${doc.id}: ${doc.title ?? doc.source} (${doc.chunkCount} passages)`;
}

export function formatDocuments(documents: readonly KnowledgeDocument[]): string {
  if (documents.length === 0) return 'No documents yet.';
  return documents
    .map((doc) => `${doc.id}  ${doc.title ?? doc.source}  (${doc.chunkCount} passages, ${doc.addedAt})`)
    .join('\n');
}

export function formatKnowledgeHits(hits: readonly KnowledgeHit[]): string {
  if (hits.length === 0) return 'No passage matches.';
  return hits
    .map((hit, index) => {
      const where = [hit.title ?? hit.source, hit.page !== undefined ? `page ${hit.page}` : '']
        .filter(Boolean)
        .join(', ');
      const head = `[${index + 1}] ${score(hit.score)} ${where} (${hit.documentId}, chars ${hit.start}-${hit.end})`;
      return `${head}\n    ${oneLine(hit.text, 300)}`;
    })
    .join('\n');
}

export function formatContext(context: SessionContext): string {
  return [
    `session:  ${context.sessionId}`,
    `user:     ${context.userId}`,
    `created:  ${context.createdAt}`,
    `updated:  ${context.updatedAt}`,
    `messages: ${context.messageCount}`,
    `agents:   ${context.agents.length > 0 ? context.agents.join(', ') : '(none yet)'}`,
  ].join('\n');
}

export function formatState(state: Record<string, unknown>): string {
  return Object.keys(state).length === 0 ? '(no user state)' : JSON.stringify(state, null, 2);
}

export function formatMessages(messages: readonly Message[]): string {
  if (messages.length === 0) return '(no messages yet)';
  return messages
    .filter((message) => message.role === 'user' || message.role === 'assistant')
    .map(
      (message) =>
        `${message.role === 'user' ? 'you' : (message.name ?? 'assistant')}: ${oneLine(message.content, 300)}`,
    )
    .join('\n');
}
