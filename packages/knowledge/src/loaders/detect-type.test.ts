import { describe, expect, it } from 'vitest';
import { decodeUtf8, sniffType, typeFromContentType, typeFromFilename } from './detect-type.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('detect-type', () => {
  it('maps extensions and content types', () => {
    expect(typeFromFilename('a/B.PDF')).toBe('pdf');
    expect(typeFromFilename('notes.markdown')).toBe('markdown');
    expect(typeFromFilename('data.tsv')).toBe('csv');
    expect(typeFromFilename('x.exe')).toBeUndefined();
    expect(typeFromContentType('text/html; charset=utf-8')).toBe('html');
    expect(typeFromContentType('application/ld+json')).toBe('json');
    expect(typeFromContentType('application/octet-stream')).toBeUndefined();
  });

  it('sniffs bytes by signature and content', () => {
    expect(sniffType(bytes('%PDF-1.7\n...'))).toBe('pdf');
    expect(sniffType(new Uint8Array([0x50, 0x4b, 0x03, 0x04, 0]))).toBe('docx');
    expect(sniffType(bytes('  <!DOCTYPE html><p>x</p>'))).toBe('html');
    expect(sniffType(bytes('{"a": 1}'))).toBe('json');
    expect(sniffType(bytes('{not json'))).toBe('text');
    expect(sniffType(bytes('intro\n\n## Part\n\ntext'))).toBe('markdown');
    expect(sniffType(bytes('plain words'))).toBe('text');
    expect(sniffType(new Uint8Array([0xff, 0xfe, 0x00, 0x41]))).toBeUndefined();
    expect(decodeUtf8(bytes('\uFEFFhello'))).toBe('hello');
  });
});
