export type { MemoryOptions } from './memory.js';
export { Memory } from './memory.js';
