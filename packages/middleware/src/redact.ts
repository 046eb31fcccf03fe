import type { Middleware } from '@sessions/core';
import type { OptionRule } from './check-option.js';
import { aBoolean, aFunction, anObject, aString, checkOption, optional } from './check-option.js';

/** One thing to hide: every match of `pattern` that passes `validate` becomes the kind's replacement. */
export interface RedactPattern {
  /** Names what is hidden; the default replacement is `[kind]`. */
  kind: string;
  /** Made global if it is not. */
  pattern: RegExp;
  /** Keep a match when this returns false (the card pattern checks the Luhn sum). */
  validate?: (match: string) => boolean;
}

/**
 * What a match becomes: one string for every kind, a string per kind (kinds not listed get
 * `[kind]`), or a function of the kind and the matched text.
 */
export type RedactReplacement =
  | string
  | Readonly<Record<string, string>>
  | ((kind: string, match: string) => string);

export interface RedactTextOptions {
  /** Applied in order, each to the text the previous ones left. Default `defaultRedactPatterns`. */
  patterns?: readonly RedactPattern[];
  /** Default `[kind]`, e.g. `[email]`. */
  replacement?: RedactReplacement;
}

export interface RedactOptions extends RedactTextOptions {
  /** Redact the user message before it reaches the model and the store. Default true. */
  input?: boolean;
  /** Redact the response before it is stored and returned. Default true. */
  output?: boolean;
}

/** Whether `digits` (digits only) pass the Luhn check that every payment card number passes. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

const digitCount = (text: string): number => text.replace(/\D/g, '').length;

const SECRET_LABELS =
  'api[_-]?key|apikey|secret[_-]?key|client[_-]?secret|access[_-]?token|auth[_-]?token|refresh[_-]?token|' +
  'private[_-]?key|password|passwd|aws_secret_access_key';

/**
 * The built-in patterns, in the order they run: secrets first (so a key's digits are never read as
 * a phone number), then emails, payment cards (Luhn-checked), phone numbers. Filter or extend it:
 * `patterns: [...defaultRedactPatterns, { kind: 'ssn', pattern: /\b\d{3}-\d{2}-\d{4}\b/g }]`.
 */
export const defaultRedactPatterns: readonly RedactPattern[] = [
  // PEM private keys
  { kind: 'secret', pattern: /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g },
  // JSON Web Tokens
  { kind: 'secret', pattern: /(?<![\w-])eyJ[\w-]{4,}\.eyJ[\w-]{4,}\.[\w-]+/g },
  // `Authorization: Bearer <token>`: the token only, when it looks random (a digit, or 20+ chars)
  {
    kind: 'secret',
    pattern: /(?<=\b[Bb]earer\s+)(?:(?=[\w.~+/-]*\d)[\w.~+/-]{8,}|[\w.~+/-]{20,})=*/g,
  },
  // OpenAI / Anthropic style keys: sk-..., sk-proj-..., sk-ant-...
  { kind: 'secret', pattern: /(?<![\w-])sk-[\w-]{16,}/g },
  // Stripe keys
  { kind: 'secret', pattern: /(?<![\w-])(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}/g },
  // AWS access key ids
  { kind: 'secret', pattern: /(?<![A-Za-z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/g },
  // GitHub tokens
  { kind: 'secret', pattern: /(?<![\w-])(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_\w{22,})/g },
  // Slack tokens
  { kind: 'secret', pattern: /(?<![\w-])xox[abprs]-[A-Za-z0-9-]{10,}/g },
  // Google API keys
  { kind: 'secret', pattern: /(?<![\w-])AIza[\w-]{35}/g },
  // `password: ...`, `api_key=...`, `"client_secret": "..."`: the value only
  {
    kind: 'secret',
    pattern: new RegExp(`(?<=\\b(?:${SECRET_LABELS})["']?\\s*[:=]\\s*["']?)[^\\s"',;]{6,}`, 'gi'),
  },
  // emails (the look-behind makes each run of name characters start one attempt, not one per letter)
  {
    kind: 'email',
    pattern: /(?<![\w.%+-])[\w.%+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![\w-])/g,
  },
  // payment cards: 13-19 digits, spaces or dashes between, starting 2-6, Luhn-checked
  {
    kind: 'card',
    pattern: /(?<![\d-])[2-6](?:[ -]?\d){12,18}(?!\d)/g,
    validate: (match) => luhnValid(match.replace(/\D/g, '')),
  },
  // international phone numbers: +CC then 2-5 groups, 8-15 digits in all
  {
    kind: 'phone',
    pattern: /(?<![\w+])\+\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,4})){2,5}(?!\w|[ .-]?\d)/g,
    validate: (match) => {
      const n = digitCount(match);
      return n >= 8 && n <= 15;
    },
  },
  // national phone numbers: (555) 123-4567, 555-123-4567, 555.123.4567, 020 7946 0958, 06 1234 5678
  {
    kind: 'phone',
    pattern: /(?<![\w+.-])(?<!\d[ .-])(?:\(\d{2,4}\)|\d{2,4})[ .-]?\d{3,4}[ .-]?\d{3,4}(?!\w|[ .-]?\d)/g,
    // at least 9 digits and a separator, so plain numbers (ids, amounts) are left alone
    validate: (match) => /[ .()-]/.test(match) && digitCount(match) >= 9,
  },
];

interface CompiledPattern {
  kind: string;
  pattern: RegExp;
  validate: ((match: string) => boolean) | undefined;
}

type Redactor = (text: string) => string;

const aKind: OptionRule = {
  expected: 'a non-empty string',
  test: (value) => typeof value === 'string' && value !== '',
};

const aRegExp: OptionRule = { expected: 'a RegExp', test: (value) => value instanceof RegExp };

const anArray: OptionRule = { expected: 'an array', test: Array.isArray };

const aReplacement: OptionRule = {
  expected: 'a string, an object of strings per kind, or a function',
  test: (value) =>
    value === undefined || typeof value === 'string' || typeof value === 'function' || anObject.test(value),
};

/** Throws `InvalidInputError` naming `factory` and the option for anything that is not `RedactTextOptions`. */
function checkTextOptions(factory: string, { patterns, replacement }: RedactTextOptions): void {
  checkOption(factory, 'patterns', patterns, optional(anArray));
  for (const [i, entry] of (patterns ?? []).entries()) {
    const at = `patterns[${i}]`;
    checkOption(factory, at, entry, anObject);
    checkOption(factory, `${at}.kind`, entry.kind, aKind);
    checkOption(factory, `${at}.pattern`, entry.pattern, aRegExp);
    checkOption(factory, `${at}.validate`, entry.validate, optional(aFunction));
  }
  checkOption(factory, 'replacement', replacement, aReplacement);
  if (anObject.test(replacement)) {
    for (const [kind, text] of Object.entries(replacement as object)) {
      checkOption(factory, `replacement.${kind}`, text, aString);
    }
  }
}

function compile(factory: string, options: RedactTextOptions): Redactor {
  checkOption(factory, 'options', options, anObject);
  checkTextOptions(factory, options);
  const { patterns = defaultRedactPatterns, replacement } = options;
  const compiled: CompiledPattern[] = patterns.map(({ kind, pattern, validate }) => ({
    kind,
    pattern: pattern.global ? pattern : new RegExp(pattern.source, `${pattern.flags}g`),
    validate,
  }));
  const replace = replacer(replacement);
  return (text) => {
    let out = text;
    for (const { kind, pattern, validate } of compiled) {
      out = out.replace(pattern, (match: string) =>
        validate === undefined || validate(match) ? replace(kind, match) : match,
      );
    }
    return out;
  };
}

function replacer(replacement: RedactReplacement | undefined): (kind: string, match: string) => string {
  if (replacement === undefined) return (kind) => `[${kind}]`;
  if (typeof replacement === 'string') return () => replacement;
  if (typeof replacement === 'function') return replacement;
  return (kind) => (Object.hasOwn(replacement, kind) ? replacement[kind]! : `[${kind}]`);
}

/** Returns `text` with every match of the patterns replaced: `redactText('mail a@b.io')` → `'mail [email]'`. */
export function redactText(text: string, options: RedactTextOptions = {}): string {
  return compile('redactText', options)(text);
}

/**
 * Hides personal data and secrets: the user message before the model and the store see it
 * (`input`), the response before it is stored and returned (`output`).
 *
 * When the turn streams, the deltas have already reached the caller by the time the response is
 * known: output redaction changes the stored and final text only, not the deltas.
 */
export const redact = (options: RedactOptions = {}): Middleware => {
  const redactor = compile('redact', options);
  const { input = true, output = true } = options;
  checkOption('redact', 'input', input, aBoolean);
  checkOption('redact', 'output', output, aBoolean);
  return async function redact(turn, next) {
    if (input) turn.message = redactor(turn.message);
    const result = await next();
    return output ? { ...result, content: redactor(result.content) } : result;
  };
};
