import type { AgentConfig } from './session-store.js';

/**
 * `base` with the fields `given` sets (not `undefined`) put over it: what an agent made with
 * `given` options works with when `base` is stored. `memory`/`knowledge` false and empty `tools`
 * are left out, as an agent made without them would store.
 */
export function overlayAgentConfig(base: AgentConfig, given: AgentConfig): AgentConfig {
  const out: AgentConfig = { ...base, name: given.name };
  if (given.role !== undefined) out.role = given.role;
  if (given.instructions !== undefined) out.instructions = given.instructions;
  if (given.memory !== undefined) out.memory = given.memory;
  if (given.knowledge !== undefined) out.knowledge = given.knowledge;
  if (given.tools !== undefined) out.tools = [...given.tools];
  if (out.memory !== true) delete out.memory;
  if (out.knowledge !== true) delete out.knowledge;
  if (out.tools !== undefined && out.tools.length === 0) delete out.tools;
  return out;
}

/** Whether `overlayAgentConfig(config, given)` would be the same as `config` (without making it). */
export function coversAgentConfig(config: AgentConfig, given: AgentConfig): boolean {
  return (
    config.name === given.name &&
    (given.role === undefined || config.role === given.role) &&
    (given.instructions === undefined || config.instructions === given.instructions) &&
    (given.memory === undefined || (config.memory === true) === (given.memory === true)) &&
    (given.knowledge === undefined || (config.knowledge === true) === (given.knowledge === true)) &&
    (given.tools === undefined || sameTools(config.tools ?? [], given.tools))
  );
}

export function sameAgentConfig(a: AgentConfig, b: AgentConfig): boolean {
  return (
    a.name === b.name &&
    a.role === b.role &&
    a.instructions === b.instructions &&
    a.memory === b.memory &&
    a.knowledge === b.knowledge &&
    (a.tools === undefined) === (b.tools === undefined) &&
    sameTools(a.tools ?? [], b.tools ?? [])
  );
}

function sameTools(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((tool, i) => tool === b[i]);
}
