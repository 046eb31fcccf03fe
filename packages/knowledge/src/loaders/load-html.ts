import { Parser } from 'htmlparser2';
import { type LoadedDocument, TextBuilder } from './loaded-document.js';

const SKIPPED = new Set([
  'script',
  'style',
  'noscript',
  'template',
  'svg',
  'math',
  'iframe',
  'canvas',
  'object',
  'select',
  'button',
]);
const BLOCKS = new Set([
  'address',
  'article',
  'aside',
  'blockquote',
  'body',
  'caption',
  'dd',
  'details',
  'dialog',
  'div',
  'dl',
  'dt',
  'fieldset',
  'figcaption',
  'figure',
  'footer',
  'form',
  'header',
  'hr',
  'li',
  'main',
  'nav',
  'ol',
  'p',
  'pre',
  'section',
  'summary',
  'table',
  'tbody',
  'thead',
  'tfoot',
  'tr',
  'ul',
]);
const HEADING = /^h([1-6])$/;

/**
 * HTML: visible text, one block per block element; `h1`-`h6` give the heading path of what
 * follows. The title is `<title>`, else the first `h1`.
 */
export function loadHtml(html: string): LoadedDocument {
  const out = new TextBuilder();
  const stack: { level: number; text: string }[] = [];
  let buffer: string[] = [];
  let skipDepth = 0;
  let preDepth = 0;
  let headDepth = 0;
  let inTitle = false;
  let titleText = '';
  let headingLevel = 0;
  let firstH1: string | undefined;

  const flush = (): void => {
    const text = buffer
      .join('')
      .replace(/[ \t]*\n[ \t]*/g, '\n')
      .trim();
    buffer = [];
    if (text === '') return;
    if (headingLevel > 0) {
      const heading = text.replace(/\s+/g, ' ');
      while (stack.length > 0 && stack[stack.length - 1]!.level >= headingLevel) stack.pop();
      stack.push({ level: headingLevel, text: heading });
      if (headingLevel === 1 && firstH1 === undefined) firstH1 = heading;
      out.add(heading, { headings: stack.map((entry) => entry.text), heading: true });
      return;
    }
    out.add(text, { headings: stack.map((entry) => entry.text) });
  };

  const parser = new Parser(
    {
      onopentag(name) {
        if (skipDepth > 0 || SKIPPED.has(name)) {
          if (!VOID.has(name)) skipDepth++;
          return;
        }
        if (name === 'head') headDepth++;
        if (name === 'title') inTitle = true;
        if (name === 'br') buffer.push('\n');
        const heading = HEADING.exec(name);
        if (heading) {
          flush();
          headingLevel = Number(heading[1]);
        } else if (BLOCKS.has(name)) {
          flush();
          if (name === 'pre') preDepth++;
        }
      },
      ontext(text) {
        if (skipDepth > 0) return;
        if (inTitle) {
          titleText += text;
          return;
        }
        if (headDepth > 0) return;
        buffer.push(preDepth > 0 ? text : text.replace(/\s+/g, ' '));
      },
      onclosetag(name, implied) {
        if (skipDepth > 0) {
          if (!VOID.has(name)) skipDepth--;
          return;
        }
        if (implied && VOID.has(name)) return;
        if (name === 'head') headDepth = Math.max(0, headDepth - 1);
        if (name === 'title') inTitle = false;
        if (name === 'td' || name === 'th') buffer.push(' ');
        if (HEADING.test(name)) {
          flush();
          headingLevel = 0;
        } else if (BLOCKS.has(name)) {
          flush();
          if (name === 'pre') preDepth = Math.max(0, preDepth - 1);
        }
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.write(html);
  parser.end();
  flush();
  const title = titleText.replace(/\s+/g, ' ').trim() || firstH1;
  const text = out.text;
  return title
    ? { type: 'html', text, title, blocks: out.blocks }
    : { type: 'html', text, blocks: out.blocks };
}

const VOID = new Set([
  'area',
  'base',
  'br',
  'col',
  'embed',
  'hr',
  'img',
  'input',
  'link',
  'meta',
  'source',
  'track',
  'wbr',
]);
