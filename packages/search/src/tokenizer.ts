import { stemmer } from 'stemmer';
import { englishStopWords } from './stop-words.js';

/** How text becomes index terms. The same options must be used to index and to query. */
export interface TokenizeOptions {
  /**
   * Reduce English words to a stem so that "painting", "paints" and "painted" match: `true` (the
   * default) uses the Porter stemmer of the `stemmer` package, `false` keeps words as they are, a
   * function is called with each lowercase ASCII word (other words are never stemmed).
   */
  stem?: boolean | ((word: string) => string);
  /**
   * Words dropped before stemming, compared lowercase and without apostrophes. Default
   * `englishStopWords`; `false` keeps every word.
   */
  stopWords?: ReadonlySet<string> | false;
}

/** Longest token kept; longer runs are ids, hashes or base64, not words. */
const MAX_TOKEN_LENGTH = 64;
/** Any character outside ASCII (UTF-16 code units from 0x80 up, surrogates included). */
const NON_ASCII = /[\u0080-\uffff]/;
const ASCII_WORD = /[a-z0-9]+(?:'[a-z0-9]+)*/g;
const WORD = /[\p{L}\p{M}\p{N}]+(?:['’][\p{L}\p{M}\p{N}]+)*/gu;
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
const CJK_RUNS =
  /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+|[^\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]+/gu;
const LATIN_WITH_MARKS = /^[\p{Script=Latin}\p{M}\p{N}]+$/u;
const MARKS = /\p{M}/gu;
const LOWER_ASCII = /^[a-z]+$/;
/** Clitics dropped from "melanie's", "i'm", "she'd", "we'll", "they're", "i've". */
const CLITICS = new Set(['s', 'm', 'd', 'll', 're', 've']);
/** Negations whose stem is not the word before "n't". */
const NEGATIONS: Record<string, string> = { ca: 'can', wo: 'will', sha: 'shall' };

const STEM_CACHE_LIMIT = 200_000;
const stemCache = new Map<string, string>();

/**
 * The Porter stem of a lowercase English word ("painting" → "paint"), memoised. Words that are
 * not lowercase ASCII letters are returned unchanged.
 */
export function stem(word: string): string {
  let result = stemCache.get(word);
  if (result === undefined) {
    result = LOWER_ASCII.test(word) ? stemmer(word) : word;
    if (stemCache.size >= STEM_CACHE_LIMIT) stemCache.clear();
    stemCache.set(word, result);
  }
  return result;
}

/**
 * Splits text into index terms: NFKC-normalised, lowercased, Latin diacritics folded ("café" →
 * "cafe"), possessives and contractions reduced ("Melanie's" → "melanie", "didn't" → "did"),
 * stop words dropped, English words stemmed. Runs of Chinese, Japanese or Korean characters become
 * overlapping character bigrams ("東京都" → "東京", "京都"), as Lucene's CJK analyser does.
 */
export function tokenize(text: string, options: TokenizeOptions = {}): string[] {
  const stopWords = options.stopWords === undefined ? englishStopWords : options.stopWords || undefined;
  const stemWord =
    options.stem === undefined || options.stem === true
      ? stem
      : options.stem === false
        ? undefined
        : options.stem;
  const out: string[] = [];
  const push = (word: string): void => {
    if (word.length === 0 || word.length > MAX_TOKEN_LENGTH) return;
    if (stopWords?.has(word)) return;
    out.push(stemWord && LOWER_ASCII.test(word) ? stemWord(word) : word);
  };
  if (!NON_ASCII.test(text)) {
    for (const match of text.toLowerCase().matchAll(ASCII_WORD)) pushWord(match[0], push);
    return out;
  }
  for (const match of text.normalize('NFKC').toLowerCase().matchAll(WORD)) {
    const word = match[0];
    if (CJK.test(word)) {
      for (const run of word.matchAll(CJK_RUNS)) {
        const part = run[0];
        if (CJK.test(part)) pushBigrams(part, push);
        else pushWord(foldLatin(part), push);
      }
    } else {
      pushWord(foldLatin(word), push);
    }
  }
  return out;
}

/** One word of the text, which may hold apostrophes. */
function pushWord(word: string, push: (word: string) => void): void {
  if (!word.includes("'") && !word.includes('’')) {
    push(word);
    return;
  }
  const plain = word.replaceAll('’', "'");
  if (plain.endsWith("n't")) {
    const base = plain.slice(0, -3);
    push(NEGATIONS[base] ?? base.replaceAll("'", ''));
    return;
  }
  const cut = plain.lastIndexOf("'");
  const clitic = plain.slice(cut + 1);
  if (CLITICS.has(clitic)) push(plain.slice(0, cut).replaceAll("'", ''));
  else push(plain.replaceAll("'", ''));
}

function pushBigrams(run: string, push: (word: string) => void): void {
  const chars = Array.from(run);
  if (chars.length === 1) {
    push(chars[0]!);
    return;
  }
  for (let i = 0; i + 1 < chars.length; i++) push(chars[i]! + chars[i + 1]!);
}

function foldLatin(word: string): string {
  if (!NON_ASCII.test(word) || !LATIN_WITH_MARKS.test(word)) return word;
  return word.normalize('NFD').replace(MARKS, '').normalize('NFC');
}
