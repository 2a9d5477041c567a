# The stateful session service. Multi-stage: compile with dev dependencies,
# run with production dependencies only, as the unprivileged `node` user.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run build

FROM node:24-bookworm-slim AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM node:24-bookworm-slim
ARG BUILD_REVISION=dev
LABEL org.opencontainers.image.title="stateful-service" \
      org.opencontainers.image.description="The stateful service pattern: a disposable process, durable data in /data" \
      org.opencontainers.image.revision="${BUILD_REVISION}"
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data
WORKDIR /app
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY public ./public
COPY package.json ./
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
EXPOSE 8080
# Slim images have no curl: the project's own client checks /health.
HEALTHCHECK --interval=5s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "dist/src/cli/main.js", "health", "--url", "http://127.0.0.1:8080"]
# node directly, never npm: npm does not pass SIGTERM on, and a clean stop needs it.
CMD ["node", "dist/src/cli/main.js", "serve"]
