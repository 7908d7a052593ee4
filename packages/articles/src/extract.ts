import { JSDOM, VirtualConsole } from 'jsdom';
import { Readability } from '@mozilla/readability';
import { CuratorError } from '@curator/contracts';
import { normalizeWhitespace } from './text.ts';

export interface ExtractedArticle {
  title: string | null;
  /** Paragraphs separated by one blank line. */
  text: string;
  byline?: string;
  lang?: string;
  excerpt?: string;
  siteName?: string;
}

const blockElements = new Set([
  'address', 'article', 'aside', 'blockquote', 'caption', 'dd', 'details', 'dialog', 'div', 'dl', 'dt', 'fieldset',
  'figcaption', 'figure', 'footer', 'form', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'header', 'hgroup', 'hr', 'li',
  'main', 'nav', 'ol', 'p', 'pre', 'section', 'summary', 'table', 'tbody', 'thead', 'tfoot', 'tr', 'ul',
]);
const skippedElements = new Set(['script', 'style', 'noscript', 'template', 'svg', 'math', 'iframe', 'object', 'button', 'select']);

const TEXT_NODE = 3;
const ELEMENT_NODE = 1;

/** Turns Readability's cleaned HTML into plain paragraphs: one per block element, `<br>` kept as a line break. */
function paragraphsOf(root: Node): string[] {
  const paragraphs: string[] = [];
  let pending = '';
  const flush = () => {
    const paragraph = normalizeWhitespace(pending);
    if (paragraph) paragraphs.push(paragraph);
    pending = '';
  };
  const walk = (node: Node) => {
    for (const child of Array.from(node.childNodes)) {
      if (child.nodeType === TEXT_NODE) {
        // HTML collapses source newlines and tabs to spaces; only <br> and blocks break lines.
        pending += (child.nodeValue ?? '').replace(/[\t\n\r\f ]+/g, ' ');
      } else if (child.nodeType === ELEMENT_NODE) {
        const tag = (child as Element).localName;
        if (skippedElements.has(tag)) continue;
        if (tag === 'br') pending += '\n';
        else if (tag === 'pre') {
          flush();
          pending = child.textContent ?? '';
          flush();
        } else if (blockElements.has(tag)) {
          flush();
          walk(child);
          flush();
        } else {
          if (tag === 'td' || tag === 'th') pending += ' ';
          walk(child);
        }
      }
    }
  };
  walk(root);
  flush();
  return paragraphs;
}

function clean(value: string | null | undefined): string | undefined {
  const text = value ? normalizeWhitespace(value).replace(/\s+/g, ' ') : '';
  return text || undefined;
}

/**
 * Finds the article in a web page (Mozilla Readability, the Firefox Reader View engine) and returns it as
 * plain paragraphs, without navigation, ads, comments or footers. Scripts never run and nothing is loaded.
 *
 * Synchronous and unbounded: it runs only inside an extraction thread (extract-thread.ts), after the page's
 * shape was checked and under the thread's deadline. Callers use an ArticleExtractor.
 */
export function extractArticleInThread(html: string, url: string): ExtractedArticle {
  let dom: JSDOM;
  try {
    // A silent console: jsdom reports every CSS it cannot parse, which pages are full of.
    dom = new JSDOM(html, { url, virtualConsole: new VirtualConsole() });
  } catch (error) {
    throw new CuratorError('extraction_failed', `Could not parse the page at ${url}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const document = dom.window.document;
    const documentLang = clean(document.documentElement.getAttribute('lang'));
    const article = new Readability(document).parse();
    if (!article?.content) throw new CuratorError('extraction_failed', `No article found in the page at ${url}`);

    const content = JSDOM.fragment(article.content);
    const text = paragraphsOf(content).join('\n\n');
    if (!text) throw new CuratorError('extraction_failed', `The article found at ${url} has no text`);

    const result: ExtractedArticle = { title: clean(article.title) ?? null, text };
    const byline = clean(article.byline);
    const lang = clean(article.lang) ?? documentLang;
    const excerpt = clean(article.excerpt);
    const siteName = clean(article.siteName);
    if (byline) result.byline = byline;
    if (lang) result.lang = lang;
    if (excerpt) result.excerpt = excerpt;
    if (siteName) result.siteName = siteName;
    return result;
  } catch (error) {
    if (error instanceof CuratorError) throw error;
    throw new CuratorError('extraction_failed', `Could not extract the article at ${url}: ${(error as Error).message}`, { cause: error });
  } finally {
    dom.window.close();
  }
}
