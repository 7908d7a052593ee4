import type { FastifyError, FastifyInstance } from 'fastify';
import { hasZodFastifySchemaValidationErrors, isResponseSerializationError } from 'fastify-type-provider-zod';
import { CuratorError, isCuratorError, type ErrorBody, type ErrorDetail } from '@curator/contracts';

/** Maps every failure to the one error body shape `{ error: { code, message, details? } }`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function installErrorHandling(app: FastifyInstance<any, any, any, any, any>): void {
  app.setErrorHandler((error: FastifyError | CuratorError | Error, request, reply) => {
    const curator = toCuratorError(error);
    if (curator.status >= 500) request.log.error({ err: error }, 'request failed');
    const headers = (error as { headers?: Record<string, string> }).headers;
    if (headers) reply.headers(headers);
    return reply.code(curator.status).type('application/json').send(curator.toBody() satisfies ErrorBody);
  });
  app.setNotFoundHandler((request, reply) => {
    const error = new CuratorError('not_found', `No route ${request.method} ${request.url.split('?')[0]}`);
    return reply.code(404).send(error.toBody());
  });
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
      return new CuratorError('unsupported_media_type', 'Send application/json');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new CuratorError('validation_failed', 'The request body is empty', { details: [{ path: '(root)', message: 'required' }] });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return new CuratorError('invalid_json', `The request body is not valid JSON: ${fastifyError.message}`);
  }
  if (fastifyError.statusCode === 429) return new CuratorError('rate_limited', fastifyError.message || 'Too many requests');
  if (fastifyError.statusCode === 400 && error instanceof SyntaxError) return new CuratorError('invalid_json', `The request body is not valid JSON: ${error.message}`);
  if (fastifyError.statusCode === 405) return new CuratorError('method_not_allowed', fastifyError.message);
  if (fastifyError.statusCode && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return new CuratorError('validation_failed', fastifyError.message);
  }
  return new CuratorError('internal_error', 'Internal error', { cause: error });
}
