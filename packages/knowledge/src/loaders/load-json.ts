import { type LoadedDocument, TextBuilder } from './loaded-document.js';

/**
 * JSON: values as indented `key: value` lines, keys kept, one block per top-level entry.
 * Throws the parser's `SyntaxError` on malformed JSON.
 */
export function loadJson(input: string): LoadedDocument {
  const value: unknown = JSON.parse(input);
  const out = new TextBuilder();
  if (Array.isArray(value)) {
    for (const item of value) out.add(render(item, 0).join('\n'), { headings: [] });
  } else if (isObject(value)) {
    for (const [key, item] of Object.entries(value))
      out.add(entry(key, item, 0).join('\n'), { headings: [] });
  } else {
    out.add(scalar(value), { headings: [] });
  }
  return { type: 'json', text: out.text, blocks: out.blocks };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function scalar(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'string') return value;
  return String(value);
}

function isEmpty(value: unknown): boolean {
  return Array.isArray(value) ? value.length === 0 : isObject(value) && Object.keys(value).length === 0;
}

function entry(key: string, value: unknown, depth: number): string[] {
  const pad = '  '.repeat(depth);
  if ((Array.isArray(value) || isObject(value)) && !isEmpty(value)) {
    return [`${pad}${key}:`, ...render(value, depth + 1)];
  }
  return [`${pad}${key}: ${isEmpty(value) ? (Array.isArray(value) ? '[]' : '{}') : scalar(value)}`];
}

function render(value: unknown, depth: number): string[] {
  const pad = '  '.repeat(depth);
  if (Array.isArray(value)) {
    return value.flatMap((item) => {
      const lines = render(item, depth + 1);
      const first = (lines[0] ?? '').trimStart();
      return [`${pad}- ${first}`, ...lines.slice(1)];
    });
  }
  if (isObject(value)) return Object.entries(value).flatMap(([key, item]) => entry(key, item, depth));
  return [`${pad}${scalar(value)}`];
}
