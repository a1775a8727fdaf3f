# One image recipe for the five pipeline services (docker-compose.yml builds it five times with
# SERVICE and OPS_PORT as build arguments). The build stage is identical for all five, so the
# builder caches it once: five images for the price of one `npm ci` and one build. The run stage
# holds one service's bundle and just the packages it loads at run time (scripts/pack-service.ts):
# no TypeScript, no esbuild, no tfjs packages (the inference bundle carries what it trains with).
# Classic-builder syntax only: balena's builders and Docker 20.10 without BuildKit must both work.

FROM node:20-bookworm-slim AS build
WORKDIR /src
# One COPY and one RUN: every layer is a full copy of the filesystem on storage drivers without
# overlay support (vfs: the CI engine, some build hosts), so few, fat steps build fastest.
COPY . .
# No install scripts: zeromq ships prebuilt addons (linux x64 and arm64) and loads them itself.
# tfjs-node (optional) needs its script to download libtensorflow, which has no arm64 build: its
# files without the library would only be 270 MB of dead weight in the inference image.
RUN npm ci --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@tensorflow/tfjs-node \
 && npm run build \
 && for service in sensor-reader preprocessor inference adaptive-threshold alert-publisher; do \
      npx tsx scripts/pack-service.ts "$service" "/out/$service" || exit 1; \
    done

FROM node:20-bookworm-slim
# What the five images share comes first, so the builder makes these layers once for all five.
# /data is where the named volumes mount (models, outbox, keys, the reader's OPC UA certificates): owned by the run user, so that a new
# volume, which takes the folder's owner, is writable.
RUN mkdir -p /data/models /data/outbox /data/keys /data/reader && chown -R node:node /data
WORKDIR /app
USER node
# bash's /dev/tcp instead of curl (not in the slim image) or a second Node process (~40 MB
# every 30 s on a 1 GB Pi): one request to /healthz, healthy on a 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/${VIGIL_HEALTH_PORT} && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]
# Two malloc arenas, not eight per core: what the tests measured (why: shared/src/node-runtime.ts).
ENV MALLOC_ARENA_MAX=2
# Exec form: Node is PID 1 and gets SIGTERM itself; every service stops in order on it. The V8
# flag caps the young generation (why: shared/src/node-runtime.ts, which the tests keep in step).
CMD ["node", "--max-semi-space-size=2", "dist/main.js"]

# The one service this image runs (a SERVICE naming no service leaves /app/dist/main.js missing,
# and the container says so when it starts).
ARG SERVICE
ARG OPS_PORT
COPY --from=build /out/${SERVICE} /app
ENV NODE_ENV=production VIGIL_HEALTH_PORT=${OPS_PORT}
