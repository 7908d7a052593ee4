import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { CuratorError } from '@curator/contracts';

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The path of the first string in a parsed body that holds a lone UTF-16 surrogate (from a `\ud800`
 * escape), or null. Iterative with parent links: a body nested thousands deep costs no stack and
 * linear time.
 */
function lonelySurrogateAt(root: unknown): string | null {
  type Entry = { value: unknown; key: string | number | null; parent: Entry | null };
  const stack: Entry[] = [{ value: root, key: null, parent: null }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const { value } = entry;
    if (typeof value === 'string') {
      if (value.isWellFormed()) continue;
      const path: Array<string | number> = [];
      for (let at: Entry | null = entry; at && at.key !== null; at = at.parent) path.unshift(at.key);
      return path.join('.') || '(root)';
    }
    if (Array.isArray(value)) for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: i, parent: entry });
    else if (value && typeof value === 'object') for (const [key, child] of Object.entries(value).reverse()) stack.push({ value: child, key, parent: entry });
  }
  return null;
}

/**
 * Request bodies are JSON and nothing else: `text/plain` gets 415 like any other type (Fastify
 * would otherwise hand the handler a string), and an empty JSON body is no body (a cancel with
 * `content-type: application/json` and nothing after it is fine). The JSON must be UTF-8, and its
 * strings well-formed text: bytes that are not UTF-8 (silently replaced by U+FFFD otherwise) and
 * lone surrogates from `\ud800` escapes (which no model or tokenizer can take) are refused with 400.
 */
export const jsonBodies = fp(
  async (app: FastifyInstance) => {
    app.removeAllContentTypeParsers();
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      let text: string;
      try {
        text = utf8.decode(body as Buffer);
      } catch {
        return done(new CuratorError('invalid_json', 'The request body is not valid UTF-8'), undefined);
      }
      if (text.trim() === '') return done(null, undefined);
      parseJson(request, text, (error, value) => {
        if (error) return done(error, undefined);
        const at = lonelySurrogateAt(value);
        if (at) return done(new CuratorError('validation_failed', `Invalid ${at}: a lone UTF-16 surrogate is not text`, { details: [{ path: at, message: 'a lone UTF-16 surrogate is not text' }] }), undefined);
        done(null, value);
      });
    });
  },
  { name: 'curator-json-bodies' },
);
