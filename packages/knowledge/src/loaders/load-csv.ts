import Papa from 'papaparse';
import { type LoadedDocument, TextBuilder } from './loaded-document.js';

/**
 * CSV or TSV (through papaparse, delimiter detected): the first row names the columns; every other
 * row becomes one block of `column: value` lines. Throws when nothing could be parsed.
 */
export function loadCsv(input: string): LoadedDocument {
  const result = Papa.parse<Record<string, unknown>>(input.replace(/^\uFEFF/, ''), {
    header: true,
    skipEmptyLines: 'greedy',
    transformHeader: (header) => header.trim(),
  });
  if (result.data.length === 0 && result.errors.length > 0) {
    throw new Error(result.errors[0]!.message);
  }
  const out = new TextBuilder();
  for (const row of result.data) {
    const lines: string[] = [];
    for (const [column, value] of Object.entries(row)) {
      const cell = Array.isArray(value) ? value.join(', ') : String(value ?? '').trim();
      if (cell !== '') lines.push(`${column === '__parsed_extra' ? 'extra' : column}: ${cell}`);
    }
    out.add(lines.join('\n'), { headings: [] });
  }
  return { type: 'csv', text: out.text, blocks: out.blocks };
}
