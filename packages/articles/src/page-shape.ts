import { Parser } from 'htmlparser2';
import { CuratorError } from '@curator/contracts';

/** How large a page's element tree may be before it is handed to the DOM and Readability. */
export interface PageShapeLimits {
  /** Deepest element nesting, the root `<html>` counting as 1. */
  maxDepth: number;
  /** Elements and comments in the whole page. */
  maxNodes: number;
}

export interface PageShape {
  depth: number;
  nodes: number;
}

/**
 * Thrown from inside the tokenizer's callbacks to stop it at once: the rest of the page is never read,
 * and the parser's open-element stack never grows past the limit.
 */
class ShapeLimitReached extends Error {}

/**
 * Measures a page's element tree in one linear pass (htmlparser2's streaming parser: no tree is built) and
 * refuses it with `extraction_budget_exceeded` when it nests deeper or holds more nodes than the limits.
 *
 * Why: jsdom + Readability cost grows with nodes x depth (Readability measures the text and link density
 * of every ancestor of every candidate), so 2,000 nested `<div>`s take a minute and 100,000 take hours.
 * htmlparser2 applies the HTML implied-end-tag rules (`<p>` closes an open `<p>`, void elements never
 * nest), so its depth follows the browser's; on misnested markup (adoption agency, foster parenting) it
 * takes shortcuts, which the limits' headroom and the thread deadline absorb. Its close-tag search walks
 * the open stack, which is why the pass stops the moment the depth limit is crossed: that keeps every step
 * bounded by the limit, the whole pass linear in the page's length.
 */
export function checkPageShape(html: string, limits: PageShapeLimits, url: string): PageShape {
  let depth = 0;
  let deepest = 0;
  let nodes = 0;
  let exceeded = '';
  const parser = new Parser({
    onopentagname() {
      depth++;
      nodes++;
      if (depth > deepest) deepest = depth;
      if (depth > limits.maxDepth) {
        exceeded = `nests elements deeper than the ${limits.maxDepth}-level limit`;
        throw new ShapeLimitReached();
      }
      if (nodes > limits.maxNodes) {
        exceeded = `has more than the ${limits.maxNodes}-node limit`;
        throw new ShapeLimitReached();
      }
    },
    onclosetag() {
      depth--;
    },
    oncomment() {
      nodes++;
      if (nodes > limits.maxNodes) {
        exceeded = `has more than the ${limits.maxNodes}-node limit`;
        throw new ShapeLimitReached();
      }
    },
  });
  try {
    parser.end(html);
  } catch (error) {
    if (!(error instanceof ShapeLimitReached)) throw error;
    throw new CuratorError('extraction_budget_exceeded', `The page at ${url} ${exceeded}; its article was not extracted`);
  }
  return { depth: deepest, nodes };
}
