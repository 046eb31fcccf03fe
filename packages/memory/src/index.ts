export { Memory } from './memory.js';
export type { MemoryOptions } from './memory.js';
