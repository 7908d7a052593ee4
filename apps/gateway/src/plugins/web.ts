import { existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import fastifyStatic from '@fastify/static';
import type { Env } from '@curator/config';
import { ensureWebBuild, studioHeaders, webDistDir, type StudioHeadersOptions } from '@curator/web';

export interface WebStudioOptions extends StudioHeadersOptions {
  /** The built studio (default: apps/web/dist). */
  root?: string;
  /**
   * Build the studio with Vite when it has no build or an out-of-date one (a checkout: `npm start`,
   * CI). Images ship it built and set this false. Default true.
   */
  build?: boolean;
}

/** Where presigned card URLs point, for the CSP's img-src: the S3 endpoint clients reach. */
export function webStudioOptionsFromEnv(env: Env): WebStudioOptions {
  const endpoint = env.S3_PUBLIC_ENDPOINT ?? env.S3_ENDPOINT;
  if (endpoint) return { imageOrigins: [endpoint] };
  // AWS S3 itself: path-style or virtual-hosted addresses of the bucket.
  const host = env.S3_FORCE_PATH_STYLE ? `s3.${env.S3_REGION}.amazonaws.com` : `${env.S3_BUCKET}.s3.${env.S3_REGION}.amazonaws.com`;
  return { imageOrigins: [`https://${host}`] };
}

/**
 * The web studio at `/`: its built files only (one route per file: every other path stays the API's
 * or its JSON 404), under a strict Content-Security-Policy; hashed assets cached for a year,
 * index.html revalidated on every load. Without a build it serves nothing and says so.
 */
export const webStudio = fp(
  async (app: FastifyInstance, options: WebStudioOptions) => {
    const root = options.root ?? webDistDir;
    if (options.build !== false && root === webDistDir) {
      try {
        const build = await ensureWebBuild({ onProgress: (line) => app.log.debug({ line }, 'building the web studio') });
        if (build.built) app.log.info({ dir: build.dir }, 'web studio built');
      } catch (error) {
        // The API does not need the studio: say why it is missing and serve the rest.
        app.log.warn({ err: error }, 'the web studio could not be built');
      }
    }
    if (!existsSync(join(root, 'index.html'))) {
      app.log.warn({ root }, 'the web studio is not built (npm run build): / is not served');
      return;
    }
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      wildcard: false,
      index: 'index.html',
      decorateReply: false,
      cacheControl: false,
      etag: true,
      lastModified: true,
      setHeaders: (reply, path) => {
        reply.headers(studioHeaders(`/${relative(root, path).split(sep).join('/')}`, options));
      },
    });
  },
  { name: 'curator-web-studio' },
);
