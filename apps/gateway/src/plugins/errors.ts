import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { CuratorError, isCuratorError, type ErrorBody, type ErrorDetail } from '@curator/contracts';

/** Seconds a client should wait before retrying when a store the gateway needs is away. */
export const retryAfterSeconds = 5;

/**
 * Every failure in the one error body shape `{ error: { code, message, details? } }`: route errors,
 * unknown routes, bodies Fastify refuses, and bad URLs (Fastify's frameworkErrors, set with the
 * instance: see `frameworkErrors` below).
 */
export const errorHandling = fp(
  async (app: FastifyInstance) => {
    app.setErrorHandler((error: FastifyError | CuratorError | Error, request, reply) => {
      const curator = toCuratorError(error);
      if (curator.status >= 500 && curator.code !== 'queue_unavailable') request.log.error({ err: error }, 'request failed');
      const headers = (error as { headers?: Record<string, string> }).headers;
      if (headers) reply.headers(headers);
      if (curator.retryable && curator.status === 503) reply.header('retry-after', String(retryAfterSeconds));
      return reply.code(curator.status).type('application/json').send(curator.toBody() satisfies ErrorBody);
    });
    app.setNotFoundHandler((request, reply) => {
      const error = new CuratorError('not_found', `No route ${request.method} ${request.url.split('?')[0]}`);
      return reply.code(404).send(error.toBody());
    });
  },
  { name: 'curator-errors' },
);

/** Fastify's `frameworkErrors` option: errors raised before routing, such as `/jobs/%`. */
export function frameworkErrors(error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const curator = error.code === 'FST_ERR_BAD_URL' ? new CuratorError('validation_failed', 'The request path is not valid percent-encoding', { details: [{ path: '(url)', message: 'invalid percent-encoding' }] }) : toCuratorError(error);
  reply.code(curator.status).type('application/json').send(curator.toBody());
}

function toCuratorError(error: FastifyError | CuratorError | Error): CuratorError {
  if (isCuratorError(error)) return error;
  if (hasZodFastifySchemaValidationErrors(error)) {
    const context = (error as { validationContext?: string }).validationContext;
    const details: ErrorDetail[] = error.validation.map((v) => ({
      path: [context === 'body' ? '' : context, ...v.instancePath.split('/').filter(Boolean)].filter(Boolean).join('.') || '(root)',
      message: v.message ?? 'invalid',
    }));
    return new CuratorError('validation_failed', `Invalid ${details[0]?.path ?? 'request'}: ${details[0]?.message ?? ''}`.trim(), { details });
  }
  if (isResponseSerializationError(error)) {
    return new CuratorError('internal_error', 'The response did not match its schema', { cause: error });
  }
  const fastifyError = error as FastifyError;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new CuratorError('payload_too_large', 'The request body is too large');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new CuratorError('unsupported_media_type', 'Send the body as application/json');
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new CuratorError('invalid_json', `The request body is not valid JSON: ${fastifyError.message}`);
  }
  if (fastifyError.statusCode === 429) return new CuratorError('rate_limited', fastifyError.message || 'Too many requests');
  if (fastifyError.statusCode === 400 && error instanceof SyntaxError) return new CuratorError('invalid_json', `The request body is not valid JSON: ${error.message}`);
  if (fastifyError.statusCode === 405) return new CuratorError('method_not_allowed', fastifyError.message);
  if (fastifyError.statusCode === 414) return new CuratorError('url_too_long', 'The request URL is too long');
  if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new CuratorError('validation_failed', fastifyError.message);
  }
  return new CuratorError('internal_error', 'Internal error', { cause: error });
}

/**
 * Fastify's `clientErrorHandler`: requests Node refuses before Fastify sees them (headers over the
 * size limit, a request that timed out, bytes that are not HTTP) get the error body too.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: import('node:stream').Duplex): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const curator =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? new CuratorError('headers_too_large', 'The request headers are larger than the server accepts')
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? new CuratorError('validation_failed', 'The request did not arrive in time')
        : new CuratorError('validation_failed', 'The request is not valid HTTP');
  const status = error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : curator.status;
  const body = JSON.stringify(curator.toBody());
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(error);
}
