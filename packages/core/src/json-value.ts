import { setField } from './copy-data.js';
import { InvalidInputError } from './errors.js';

/** Deeper than this, each object is also looked for among its ancestors (a cycle goes on forever). */
const CHECK_CYCLES_FROM = 64;

type Path = Array<string | number>;

class NotJson {
  constructor(
    readonly path: Path,
    readonly problem: string,
  ) {}
}

const JSON_RULE =
  'it must be JSON: strings, finite numbers, booleans, null, arrays and plain objects (an object property that is undefined is left out)';

function notJson(path: Path, problem: string): NotJson {
  return new NotJson([...path], problem);
}

function describe(value: unknown): string {
  switch (typeof value) {
    case 'number':
      return String(value);
    case 'undefined':
      return 'undefined (use null)';
    case 'bigint':
      return `a bigint (${String(value)}n)`;
    case 'object': {
      const name = (value as { constructor?: { name?: unknown } }).constructor?.name;
      const what =
        typeof name === 'string' && name !== ''
          ? `${/^[AEIOU]/.test(name) ? 'an' : 'a'} ${name}`
          : 'an object that is not plain';
      return value instanceof Date ? `${what} (store date.toISOString())` : what;
    }
    default:
      return `a ${typeof value}`;
  }
}

function walk(value: unknown, path: Path, ancestors: object[], copy: boolean): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      if (Number.isFinite(value)) return value;
      throw notJson(path, describe(value));
    case 'object':
      if (value === null) return null;
      break;
    default:
      throw notJson(path, describe(value));
  }
  if (ancestors.length >= CHECK_CYCLES_FROM && ancestors.includes(value)) {
    throw notJson(path, 'a cycle (an object inside itself)');
  }
  ancestors.push(value);
  let out: unknown;
  if (Array.isArray(value)) {
    const items: unknown[] | undefined = copy ? new Array<unknown>(value.length) : undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      let kept = item;
      if (typeof item !== 'string') {
        path.push(i);
        kept = walk(item, path, ancestors, copy);
        path.pop();
      }
      if (items) items[i] = kept;
    }
    out = items;
  } else {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) throw notJson(path, describe(value));
    const fields: Record<string, unknown> | undefined = copy ? {} : undefined;
    for (const key in value) {
      const item = (value as Record<string, unknown>)[key];
      // JSON leaves it out: the same as a property that is not there.
      if (item === undefined) continue;
      let kept: unknown = item;
      if (typeof item !== 'string') {
        path.push(key);
        kept = walk(item, path, ancestors, copy);
        path.pop();
      }
      if (fields) setField(fields, key, kept);
    }
    out = fields;
  }
  ancestors.pop();
  return out;
}

function formatPath(path: Path): string {
  let text = '';
  for (const step of path) {
    if (typeof step === 'number') text += `[${step}]`;
    else if (/^[A-Za-z_$][\w$]*$/.test(step)) text += text === '' ? step : `.${step}`;
    else text += `[${JSON.stringify(step)}]`;
  }
  return text;
}

function run(value: unknown, what: string, root: Path, copy: boolean): unknown {
  try {
    return walk(value, [...root], [], copy);
  } catch (error) {
    if (error instanceof NotJson) {
      const where = formatPath(error.path);
      throw new InvalidInputError(
        `Invalid ${what}: ${where === '' ? 'it' : `"${where}"`} is ${error.problem}; ${JSON_RULE}`,
      );
    }
    if (error instanceof RangeError) {
      throw new InvalidInputError(`Invalid ${what}: it is nested too deeply; ${JSON_RULE}`, { cause: error });
    }
    throw error;
  }
}

/**
 * Throws `InvalidInputError` unless `value` is JSON that `JSON.stringify` keeps as it is: strings,
 * finite numbers, booleans, null, arrays and plain objects, no cycle (an object property that is
 * `undefined` is allowed: JSON leaves it out). `what` names it in the message (`'state'`), and
 * `root` is where it sits, for the message's path. The one rule of every session store and of
 * `Session`'s state methods.
 */
export function assertJsonValue(value: unknown, what: string, root: Path = []): void {
  run(value, what, root, false);
}

/** `assertJsonValue`, and a deep copy of `value` as JSON would give it back (`undefined` properties left out). */
export function copyJsonValue<T>(value: T, what: string, root: Path = []): T {
  return run(value, what, root, true) as T;
}
