import { eng } from 'stopword';

/**
 * Function words that the `stopword` package's English list (108 words) leaves out, mostly the
 * question words and pronoun forms a search query is made of ("when does she ..."), and the stray
 * pieces of contractions.
 */
const SUPPLEMENT = [
  'when',
  'why',
  'whom',
  'whose',
  'does',
  'doing',
  'done',
  'she',
  'hers',
  'herself',
  'its',
  'itself',
  'ours',
  'ourselves',
  'yours',
  'yourself',
  'yourselves',
  'theirs',
  'themselves',
  'myself',
  'few',
  'nor',
  'not',
  'no',
  'so',
  'off',
  'again',
  'further',
  'once',
  'own',
  'just',
  'until',
  'above',
  'below',
  'during',
  'against',
  'down',
  'having',
  'shall',
  'upon',
  'whether',
  'yet',
  'already',
  // what is left of contractions the tokenizer could not join
  's',
  't',
  'd',
  'm',
  'll',
  're',
  've',
];

/**
 * The English stop words the tokenizer drops by default: the `stopword` package's `eng` list plus
 * a small supplement of function words (question words, pronoun forms).
 * All lowercase, without apostrophes, as the tokenizer produces tokens.
 */
export const englishStopWords: ReadonlySet<string> = new Set([...eng, ...SUPPLEMENT]);
