import type { TurnContext } from '@sessions/core';
import { compose } from '@sessions/core';
import { describe, expect, it } from 'vitest';
import { expectInvalidOption } from './invalid-option.test-helper.js';
import { defaultRedactPatterns, luhnValid, redact, redactText } from './redact.js';
import { makeTurn } from './turn.test-helper.js';

describe('redactText', () => {
  it.each([
    ['mail me at jane.doe+tag@example.co.uk today', 'mail me at [email] today'],
    ['a@b.io and first_last@sub.domain.org', '[email] and [email]'],
  ])('hides emails: %s', (text, expected) => {
    expect(redactText(text)).toBe(expected);
  });

  it.each([
    ['call +1 555 123 4567 now', 'call [phone] now'],
    ['call +1 (555) 123-4567', 'call [phone]'],
    ['+44 20 7946 0958', '[phone]'],
    ['+33612345678', '[phone]'],
    ['(555) 123-4567', '[phone]'],
    ['555-123-4567.', '[phone].'],
    ['555.123.4567', '[phone]'],
    ['020 7946 0958', '[phone]'],
    ['tel: 06 1234 5678', 'tel: [phone]'],
  ])('hides phone numbers: %s', (text, expected) => {
    expect(redactText(text)).toBe(expected);
  });

  it.each([
    ['visa 4111 1111 1111 1111 exp', 'visa [card] exp'],
    ['mc 5555-5555-5555-4444', 'mc [card]'],
    ['amex 378282246310005', 'amex [card]'],
    ['4242424242424242', '[card]'],
  ])('hides Luhn-valid card numbers: %s', (text, expected) => {
    expect(redactText(text)).toBe(expected);
  });

  it('keeps card-shaped numbers that fail the Luhn check, whole', () => {
    for (const text of ['4111 1111 1111 1112', '4111111111111112', 'order 5555-5555-5555-4445']) {
      expect(redactText(text)).toBe(text);
    }
  });

  it.each([
    ['key sk-proj-abcDEF1234567890abcdEF', 'key [secret]'],
    ['sk-ant-api03-AAAABBBBCCCCDDDD1234', '[secret]'],
    ['AWS AKIAIOSFODNN7EXAMPLE', 'AWS [secret]'],
    [`token ghp_${'a1B2'.repeat(9)}`, 'token [secret]'],
    [`github_pat_${'x'.repeat(30)}`, '[secret]'],
    ['Authorization: Bearer abc123.def-456_ghi', 'Authorization: Bearer [secret]'],
    ['xoxb-123456789012-abcdefABCDEF', '[secret]'],
    [`AIza${'Q'.repeat(35)}`, '[secret]'],
    [`stripe ${'sk'}_live_${'4eC39HqLyjWDarjtT1zdp7dc'}`, 'stripe [secret]'],
    ['password: hunter22', 'password: [secret]'],
    ['{"api_key": "0123456789abcdef"}', '{"api_key": "[secret]"}'],
    ['AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'AWS_SECRET_ACCESS_KEY=[secret]'],
    [
      'jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U',
      'jwt [secret]',
    ],
    ['-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----', '[secret]'],
  ])('hides secrets: %s', (text, expected) => {
    expect(redactText(text)).toBe(expected);
  });

  it('leaves ordinary text alone', () => {
    const texts = [
      'Meeting on 2024-01-15 at 10:30, room 12.',
      'Population 8000000000 and order #123456789.',
      'Server 192.168.100.100 runs v1.2.3.',
      'The bearer of bad news arrived.',
      'Bearer tokens go in a header.',
      'What makes a good password for my router? secret: none',
      'Math: 2+3 = 5 and sk-short',
      'An @mention and a dangling user@ sign.',
    ];
    for (const text of texts) expect(redactText(text)).toBe(text);
  });

  it('uses one replacement for all kinds, one per kind, or a function', () => {
    const text = 'a@b.io 4111111111111111';
    expect(redactText(text, { replacement: '***' })).toBe('*** ***');
    expect(redactText(text, { replacement: { email: '<email>' } })).toBe('<email> [card]');
    expect(redactText(text, { replacement: (kind, match) => `<${kind}:${match.length}>` })).toBe(
      '<email:6> <card:16>',
    );
    expect(redactText('a@b.io', { replacement: '$&$&' })).toBe('$&$&');
  });

  it('adds to or replaces the patterns, making a non-global regex global', () => {
    const ssn = { kind: 'ssn', pattern: /\b\d{3}-\d{2}-\d{4}\b/ };
    const text = 'ssn 123-45-6789 and 987-65-4321, mail a@b.io';
    expect(redactText(text, { patterns: [...defaultRedactPatterns, ssn] })).toBe(
      'ssn [ssn] and [ssn], mail [email]',
    );
    expect(redactText(text, { patterns: [ssn] })).toBe('ssn [ssn] and [ssn], mail a@b.io');
    const noPhones = defaultRedactPatterns.filter((p) => p.kind !== 'phone');
    expect(redactText('+1 555 123 4567 a@b.io', { patterns: noPhones })).toBe('+1 555 123 4567 [email]');
  });

  it('keeps matches a pattern rejects through validate', () => {
    const even = { kind: 'even', pattern: /\d+/g, validate: (m: string) => Number(m) % 2 === 0 };
    expect(redactText('1 2 3 4', { patterns: [even] })).toBe('1 [even] 3 [even]');
  });

  it('handles a large adversarial input', () => {
    const text = `${'a'.repeat(100_000)}@${'b'.repeat(100_000)} ${'1 '.repeat(50_000)} ${'x.'.repeat(50_000)}`;
    expect(redactText(text)).toBe(text);
  });
});

describe('luhnValid', () => {
  it('accepts valid and rejects invalid numbers', () => {
    expect(luhnValid('79927398713')).toBe(true);
    expect(luhnValid('79927398710')).toBe(false);
    expect(luhnValid('')).toBe(false);
    expect(luhnValid('12a4')).toBe(false);
  });
});

describe('redact', () => {
  it('redacts the message before the handler and the response after it', async () => {
    let seen = '';
    const turn = makeTurn('I am jane@example.com, card 4111 1111 1111 1111');
    const run = compose([redact()], async (t) => {
      seen = t.message;
      return { content: 'Noted, jane@example.com. Call +1 555 123 4567.', toolRounds: 0 };
    });
    const result = await run(turn);
    expect(seen).toBe('I am [email], card [card]');
    expect(turn.message).toBe('I am [email], card [card]');
    expect(result).toEqual({ content: 'Noted, [email]. Call [phone].', toolRounds: 0 });
  });

  it('can leave the input or the output alone', async () => {
    const handler = async (t: TurnContext) => ({ content: `echo ${t.message}` });
    const inputOnly = await compose([redact({ output: false })], handler)(makeTurn('a@b.io'));
    expect(inputOnly.content).toBe('echo [email]');
    const outputOnly = await compose([redact({ input: false, replacement: 'X' })], async (t) => {
      expect(t.message).toBe('a@b.io');
      return handler(t);
    })(makeTurn('a@b.io'));
    expect(outputOnly.content).toBe('echo X');
  });

  it.each([
    ['options', 'all'],
    ['replacement', { replacement: 5 }],
    ['replacement', { replacement: null }],
    ['replacement', { replacement: ['x'] }],
    ['replacement.email', { replacement: { email: 5 } }],
    ['patterns', { patterns: 'email' }],
    ['patterns[0]', { patterns: [null] }],
    ['patterns[0].pattern', { patterns: [{ kind: 'x', pattern: 'abc' }] }],
    ['patterns[1].kind', { patterns: [{ kind: 'x', pattern: /x/ }, { pattern: /y/ }] }],
    ['patterns[0].kind', { patterns: [{ kind: '', pattern: /x/ }] }],
    ['patterns[0].validate', { patterns: [{ kind: 'x', pattern: /x/, validate: true }] }],
    ['input', { input: 'no' }],
    ['output', { output: 0 }],
  ])('refuses a bad %s at once with InvalidInputError naming it', (option, options) => {
    expectInvalidOption(() => redact(options as never), 'redact', option);
  });

  it('redactText refuses bad options with InvalidInputError naming it', () => {
    expectInvalidOption(() => redactText('a', { replacement: 5 } as never), 'redactText', 'replacement');
    expectInvalidOption(
      () => redactText('a', { patterns: [{ kind: 'x', pattern: 'abc' }] } as never),
      'redactText',
      'patterns[0].pattern',
    );
  });
});
