# syntax=docker/dockerfile:1.7
# Curator gateway: Fastify REST API and the web studio. Node runs the TypeScript sources directly (type
# stripping): the image is production dependencies + sources + the studio's static build.
ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-bookworm-slim AS manifests
WORKDIR /src
# Only package.json files, so the dependency layer below is rebuilt when a manifest changes, not on every source edit.
COPY package.json package-lock.json ./
COPY packages packages
COPY apps apps
RUN find packages apps -type f ! -name package.json -delete && find packages apps -depth -type d -empty -delete
# Without the workspaces' devDependencies, so npm ci -w installs no test-only workspace (testkit, the embedded S3
# server, ...) that an app reaches only through one: npm never flags a workspace as dev. See the script.
COPY docker/omit-workspace-dev-dependencies.mjs /tmp/
RUN node /tmp/omit-workspace-dev-dependencies.mjs

FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY --from=manifests /src ./
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund -w apps/gateway

# The web studio's static files (Vite is a build tool: it stays in this stage, out of the image).
FROM node:${NODE_VERSION}-bookworm-slim AS web
WORKDIR /src
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY . .
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --no-audit --no-fund -w apps/web -w packages/client -w packages/contracts && npm run build -w @curator/web

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
LABEL org.opencontainers.image.title="curator-gateway" \
      org.opencontainers.image.description="Curator REST gateway"
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
WORKDIR /app
# Sources stay root-owned and read-only for the process: it only needs to read them.
COPY --from=deps /app ./
COPY package.json ./
COPY packages packages
COPY apps apps
COPY --from=web /src/apps/web/dist apps/web/dist
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "apps/gateway/src/main.ts"]
