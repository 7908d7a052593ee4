# syntax=docker/dockerfile:1.7
# Curator worker: runs ONNX models with onnxruntime-node.
#   --target cuda (default): CUDA 12 + cuDNN 9 runtime, onnxruntime-node's CUDA 12 execution provider.
#   --target cpu:            Debian slim, onnxruntime-node's bundled CPU build only (no NVIDIA libraries).
# Both carry the CLI too, so the same image pulls models (`node apps/cli/src/main.ts models pull`).
# Node 24 everywhere (the project targets Node 22.18+ for type stripping; issue 6 said Node 20 for the worker,
# which cannot run the .ts sources).
ARG NODE_VERSION=24.21.0
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu22.04

FROM node:${NODE_VERSION}-bookworm-slim AS nodejs

FROM nodejs AS manifests
WORKDIR /src
COPY package.json package-lock.json ./
COPY packages packages
COPY apps apps
RUN find packages apps -type f ! -name package.json -delete && find packages apps -depth -type d -empty -delete
# Without the workspaces' devDependencies, so npm ci -w installs no test-only workspace (testkit, the embedded S3
# server, ...) that an app reaches only through one: npm never flags a workspace as dev. See the script.
COPY docker/omit-workspace-dev-dependencies.mjs /tmp/
RUN node /tmp/omit-workspace-dev-dependencies.mjs

FROM nodejs AS deps-cpu
# skip: onnxruntime-node keeps only the CPU binaries it ships in the package.
ENV ONNXRUNTIME_NODE_INSTALL=skip
WORKDIR /app
COPY --from=manifests /src ./
# npm 11 runs no dependency install script unless allowed, and refuses --allow-scripts on the command line of a
# project install: allow onnxruntime-node's (the only one the worker needs) in the user npmrc instead. Older npm
# versions run every script anyway and ignore the key.
RUN printf 'allow-scripts=onnxruntime-node\n' >> /root/.npmrc
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund --foreground-scripts -w apps/worker -w apps/cli

FROM nodejs AS deps-cuda
# cuda12: onnxruntime-node's install script adds the CUDA 12 execution provider libraries.
ENV ONNXRUNTIME_NODE_INSTALL=cuda12
WORKDIR /app
COPY --from=manifests /src ./
RUN printf 'allow-scripts=onnxruntime-node\n' >> /root/.npmrc
RUN --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev --no-audit --no-fund --foreground-scripts -w apps/worker -w apps/cli

FROM nodejs AS cpu
LABEL org.opencontainers.image.title="curator-worker-cpu" \
      org.opencontainers.image.description="Curator worker, CPU only"
ENV NODE_ENV=production \
    MODELS_DIR=/models \
    CURATOR_DEVICE=cpu \
    WORKER_METRICS_PORT=9464
# Headline cards: sharp renders text with Pango; fontconfig finds fallback glyphs (the card's own font ships in
# packages/card), the emoji font draws emoji instead of boxes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fontconfig fonts-noto-color-emoji \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=deps-cpu /app ./
COPY package.json ./
COPY packages packages
COPY apps apps
# The models volume takes this owner on first mount, so the non-root process can write pulled models.
RUN mkdir -p /models && chown node:node /models
VOLUME ["/models"]
USER node
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=120s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.WORKER_METRICS_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "apps/worker/src/main.ts"]

FROM ${CUDA_IMAGE} AS cuda
LABEL org.opencontainers.image.title="curator-worker" \
      org.opencontainers.image.description="Curator worker, CUDA 12 + cuDNN 9"
# Node from the official image: the same binary as the other images, no third-party apt repository.
COPY --from=nodejs /usr/local/bin/node /usr/local/bin/node
COPY --from=nodejs /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 curator \
 && useradd --uid 1000 --gid curator --create-home --shell /usr/sbin/nologin curator \
 && mkdir -p /models && chown curator:curator /models
# Headline cards: sharp renders text with Pango; fontconfig finds fallback glyphs (the card's own font ships in
# packages/card), the emoji font draws emoji instead of boxes.
RUN apt-get update \
 && apt-get install -y --no-install-recommends fontconfig fonts-noto-color-emoji \
 && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production \
    MODELS_DIR=/models \
    CURATOR_DEVICE=cuda \
    WORKER_METRICS_PORT=9464 \
    NVIDIA_DRIVER_CAPABILITIES=compute,utility
WORKDIR /app
COPY --from=deps-cuda /app ./
COPY package.json ./
COPY packages packages
COPY apps apps
VOLUME ["/models"]
USER curator
EXPOSE 9464
HEALTHCHECK --interval=15s --timeout=3s --start-period=300s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.WORKER_METRICS_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "apps/worker/src/main.ts"]
