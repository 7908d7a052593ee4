import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * Request bodies are JSON and nothing else: `text/plain` gets 415 like any other type (Fastify
 * would otherwise hand the handler a string), and an empty JSON body is no body (a cancel with
 * `content-type: application/json` and nothing after it is fine).
 */
export const jsonBodies = fp(
  async (app: FastifyInstance) => {
    app.removeAllContentTypeParsers();
    const parseJson = app.getDefaultJsonParser('error', 'error');
    app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.trim() === '') return done(null, undefined);
      parseJson(request, text, done);
    });
  },
  { name: 'curator-json-bodies' },
);
