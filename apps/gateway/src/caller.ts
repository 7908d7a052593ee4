import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { CuratorError, type ApiKeyScope } from '@curator/contracts';

/**
 * Who is calling: the API key the request carried, or nobody. The access plugin sets it from the
 * `Authorization: Bearer` header; routes read it to scope jobs to their owner.
 */
export interface Caller {
  /** The key's public id; null for an anonymous caller (only where the gateway runs open). */
  keyId: string | null;
  /** What jobs are stored under: the key id, or `anonymous`. */
  owner: string;
  scopes: ReadonlySet<ApiKeyScope>;
}

export const anonymousOwner = 'anonymous';

declare module 'fastify' {
  interface FastifyRequest {
    caller: Caller;
  }
}

const everyScope: ReadonlySet<ApiKeyScope> = new Set(['submit', 'read', 'admin']);

/** The caller of a gateway that checks no keys (before the access plugin sets a real one). */
export const openCaller: Caller = { keyId: null, owner: anonymousOwner, scopes: everyScope };

/** Decorates every request with `caller` (the open caller until an access plugin replaces it). */
export const callerDecorator = fp(
  async (app: FastifyInstance) => {
    app.decorateRequest('caller', null as unknown as Caller);
    app.addHook('onRequest', async (request) => {
      request.caller ??= openCaller;
    });
  },
  { name: 'curator-caller' },
);

/** Whether the caller may see every job, not only its own. */
export function seesAllJobs(caller: Caller): boolean {
  return caller.scopes.has('admin');
}

/**
 * Whether the caller may do what `scope` allows. `admin` implies every scope; `submit` implies
 * `read` (of the caller's own jobs: a key that creates jobs can follow them, and the job reaches it
 * through `Prefer: wait` and webhooks anyway).
 */
export function hasScope(caller: Caller, scope: ApiKeyScope): boolean {
  const { scopes } = caller;
  return scopes.has(scope) || scopes.has('admin') || (scope === 'read' && scopes.has('submit'));
}

/** A route's guard: 403 `forbidden` unless the caller may do what `scope` allows (see `hasScope`). */
export function requireScope(scope: ApiKeyScope) {
  return async (request: FastifyRequest): Promise<void> => {
    if (!hasScope(request.caller, scope)) {
      throw new CuratorError('forbidden', `This API key lacks the "${scope}" scope`);
    }
  };
}
