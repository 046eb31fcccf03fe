/** Deeper than this, `copyData` leaves the copy to `structuredClone` (which also handles cycles). */
const MAX_DEPTH = 64;

class TooDeep extends Error {}

function copy(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) {
    // structuredClone refuses functions and symbols: so does this.
    return typeof value === 'function' || typeof value === 'symbol' ? structuredClone(value) : value;
  }
  if (depth > MAX_DEPTH) throw new TooDeep();
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      // Strings, numbers, booleans and null are kept as they are, without a call each.
      out[i] =
        typeof item === 'object' || typeof item === 'function' || typeof item === 'symbol'
          ? copy(item, depth + 1)
          : item;
    }
    return out;
  }
  const proto = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return structuredClone(value);
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const item = (value as Record<string, unknown>)[key];
    setField(
      out,
      key,
      typeof item === 'object' || typeof item === 'function' || typeof item === 'symbol'
        ? copy(item, depth + 1)
        : item,
    );
  }
  return out;
}

/**
 * `target[key] = value`, as an own property even for `__proto__` (which an assignment would take
 * as the object's prototype; `JSON.parse` makes it an own property, and so does this).
 */
export function setField(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') {
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    target[key] = value;
  }
}

/**
 * A deep copy of stored data (messages, state): plain objects, arrays and primitives are copied
 * directly, several times faster than `structuredClone` for the small records a turn writes;
 * anything else (a `Date`, a `Map`, a cycle) goes through `structuredClone`, which also refuses
 * what cannot be copied.
 */
export function copyData<T>(value: T): T {
  try {
    return copy(value, 0) as T;
  } catch (error) {
    if (error instanceof TooDeep) return structuredClone(value);
    throw error;
  }
}
