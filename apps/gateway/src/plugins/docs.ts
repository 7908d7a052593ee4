import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { curatorVersion } from '@curator/contracts';
import { completeOpenApi, documentAccess, securitySchemeName, securitySchemes, tidyOpenApi, withWebhookMessages, type RouteAccess } from '../openapi.ts';
import { requiredAccess } from './access.ts';

/**
 * What a route needs, by the access plugin's own rule (it reads the route's url, method and
 * config from the request; here the route stands in for a request to it).
 */
function accessOfRoute(route: { method: string | string[]; url: string; config?: unknown }): RouteAccess {
  const method = Array.isArray(route.method) ? route.method[0]! : route.method;
  return requiredAccess({ method, routeOptions: { url: route.url, config: route.config ?? {} } } as unknown as FastifyRequest);
}

/**
 * OpenAPI 3.1 at `/docs/json`, derived from the routes' zod contracts and completed with what the
 * plugins around the routes add (API keys, rate limits, their errors and headers), the contracts'
 * examples and the webhook messages; Swagger UI at `/docs`.
 */
export const apiDocs = fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Curator API', version: curatorVersion, description: 'Turns a news article into a publishable card: sentiment or genre, summary, headline and illustration.' },
        tags: [
          { name: 'jobs', description: 'Submit jobs, read them, list them, follow them live, cancel, retry and rerun them, rate them.' },
          { name: 'system', description: 'Health, readiness, workers, metrics.' },
        ],
        components: { securitySchemes },
        security: [{ [securitySchemeName]: [] }],
      },
      transform: (input) => {
        const transformed = jsonSchemaTransform(input);
        return { ...transformed, schema: documentAccess(transformed.schema as Record<string, unknown>, accessOfRoute(input.route)) };
      },
      transformObject: (documentObject) => completeOpenApi(tidyOpenApi(withWebhookMessages(jsonSchemaTransformObject(documentObject)) as never)),
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  },
  { name: 'curator-docs' },
);
