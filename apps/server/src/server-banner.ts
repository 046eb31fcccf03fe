import pc from 'picocolors';
import type { DemoServer } from './demo-server.js';
import { PRINCIPAL_MEMORY_FOLDER, type SharedMemoryMode } from './session-resources.js';

/** What the server prints on start: where it listens, what it runs on, and how to connect. */
export function serverBanner(server: DemoServer): string {
  const { assembly } = server;
  const auth = server.auth ? ` --token "$TOKEN"` : '';
  const header = server.auth ? ` -H "Authorization: Bearer $TOKEN"` : '';
  const lines = [
    `${pc.bold('Sessions demo server')} listening on ${pc.cyan(server.url)}`,
    ...(assembly.offline
      ? [
          pc.yellow(
            'OFFLINE mode: no model configured. Answers come from the session memory and knowledge; ' +
              'set OPENAI_API_KEY (or OPENAI_BASE_URL for a local server) and restart for a real model.',
          ),
        ]
      : []),
    `  model:     ${assembly.modelDescription}`,
    `  sessions:  ${assembly.storeDescription}`,
    memoryLine(assembly.resources.sharedMemory, assembly.dataDir),
    `  knowledge: SQLite per session, ${assembly.dataDir}/{session}/knowledge/`,
    `  auth:      ${server.auth ? 'bearer tokens required' : 'none (loopback only)'}`,
    'Connect:',
    `  sessions chat --remote ${server.url}${auth}`,
    `  curl -s ${server.agentUrl}${header} -H 'Content-Type: application/json' -d '{"message":"Hello","session_id":"demo"}'`,
    'Stop with Ctrl+C.',
  ];
  return `${lines.join('\n')}\n`;
}

function memoryLine(shared: SharedMemoryMode, dataDir: string): string {
  if (shared === 'principal') {
    return `  memory:    SQLite per principal (token), ${dataDir}/${PRINCIPAL_MEMORY_FOLDER}/{principal}-{hash}/`;
  }
  return shared
    ? `  memory:    SQLite, all sessions, ${dataDir}/memory.sqlite`
    : `  memory:    SQLite per session, ${dataDir}/{session}/memory/`;
}
