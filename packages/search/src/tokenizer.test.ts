import { describe, expect, it } from 'vitest';
import { englishStopWords } from './stop-words.js';
import { stem, tokenize } from './tokenizer.js';

describe('tokenize', () => {
  it('lowercases, drops stop words and stems English words', () => {
    expect(tokenize('The Painters were painting PAINTINGS of the lake')).toEqual([
      'painter',
      'paint',
      'paint',
      'lake',
    ]);
  });

  it('drops possessives and contractions to their word', () => {
    expect(tokenize("Melanie's kids didn't know we'd won't")).toEqual(['melani', 'kid', 'know', 'will']);
    expect(tokenize('O’Brien’s café')).toEqual(['obrien', 'cafe']);
    expect(tokenize("rock'n'roll can't stop")).toEqual(['rocknrol', 'stop']);
  });

  it('keeps numbers and splits on punctuation', () => {
    expect(tokenize('1:56 pm on 8 May, 2023 — self-care')).toEqual([
      '1',
      '56',
      'pm',
      '8',
      'mai',
      '2023',
      'self',
      'care',
    ]);
  });

  it('folds Latin diacritics and normalises compatibility forms', () => {
    expect(tokenize('Café NAÏVE résumé')).toEqual(tokenize('cafe naive resume'));
    expect(tokenize('Ｈｅｌｌｏ ﬁne')).toEqual(tokenize('hello fine'));
  });

  it('keeps words of other scripts whole, with their marks', () => {
    expect(tokenize('Ελληνικά слово हिन्दी')).toEqual(['ελληνικά', 'слово', 'हिन्दी']);
  });

  it('turns runs of CJK characters into overlapping bigrams', () => {
    expect(tokenize('東京都に行く')).toEqual(['東京', '京都', '都に', 'に行', '行く']);
    expect(tokenize('猫')).toEqual(['猫']);
    expect(tokenize('東京2023年')).toEqual(['東京', '2023', '年']);
  });

  it('drops tokens longer than 64 characters', () => {
    expect(tokenize(`${'x'.repeat(65)} short`)).toEqual(['short']);
  });

  it('returns nothing for empty or stop-word-only text', () => {
    expect(tokenize('')).toEqual([]);
    expect(tokenize('  ...  ')).toEqual([]);
    expect(tokenize('what is it that you were')).toEqual([]);
  });

  it('can keep words unstemmed, stop words in, or use its own stemmer and stop words', () => {
    expect(tokenize('the running dogs', { stem: false })).toEqual(['running', 'dogs']);
    expect(tokenize('the running dogs', { stopWords: false })).toEqual(['the', 'run', 'dog']);
    expect(
      tokenize('the running dogs', { stopWords: new Set(['dogs']), stem: (w) => w.slice(0, 3) }),
    ).toEqual(['the', 'run']);
  });
});

describe('stem', () => {
  it('gives the Porter stem of lowercase ASCII words and leaves other words alone', () => {
    expect(stem('generously')).toBe('gener');
    expect(stem('caresses')).toBe('caress');
    expect(stem('東京')).toBe('東京');
    expect(stem('2023')).toBe('2023');
  });
});

describe('englishStopWords', () => {
  it('holds the stopword package list and the question words it lacks', () => {
    for (const word of ['the', 'and', 'what', 'when', 'why', 'does', 'she'])
      expect(englishStopWords.has(word)).toBe(true);
    expect(englishStopWords.has('paint')).toBe(false);
  });
});
