import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { curatorVersion } from '@curator/contracts';
import { tidyOpenApi } from '../openapi.ts';

/** OpenAPI 3.1 at `/docs/json`, derived from the routes' zod contracts; Swagger UI at `/docs`. */
export const apiDocs = fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Curator API', version: curatorVersion, description: 'Turns a news article into a publishable card: sentiment or genre, summary, headline and illustration.' },
        tags: [
          { name: 'jobs', description: 'Submit jobs, read them, follow them live, cancel them.' },
          { name: 'system', description: 'Health, readiness, workers.' },
        ],
      },
      transform: jsonSchemaTransform,
      transformObject: (documentObject) => tidyOpenApi(jsonSchemaTransformObject(documentObject) as never),
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
  },
  { name: 'curator-docs' },
);
