# syntax=docker/dockerfile:1
# One image for every LightDom service; the command picks the service (see deploy/compose.yaml):
#   docker build -t lightdom:0.1.0 .
#   docker run --rm lightdom:0.1.0                                   # command-api
#   docker run --rm lightdom:0.1.0 node packages/projector/dist/main.js
# Stages: `build` compiles TypeScript (and the dashboard) with every dependency; `prod-deps`
# installs production dependencies only; the final stage holds those, the compiled dist/
# trees and the few files they read at run time, and runs as the unprivileged `node` user.

ARG NODE_IMAGE=node:20.19.5-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY contracts/package.json ./contracts/
COPY packages ./packages
# --ignore-scripts: no install script is needed to compile (native add-ons belong to Hardhat's tooling).
RUN npm ci --ignore-scripts --no-audit --no-fund
RUN npx turbo run build --filter='!@lightdom/testkit' \
 && npx esbuild packages/dashboard/serve.ts --bundle --platform=node --format=esm \
      --packages=external --outfile=packages/dashboard/serve.mjs

FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY contracts/package.json ./contracts/
COPY packages ./packages
# Production dependencies of the service workspaces only (not Hardhat, not the dev tools).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
      -w @lightdom/command-api -w @lightdom/projector -w @lightdom/executor \
      -w @lightdom/ai-worker -w @lightdom/anchor -w @lightdom/audit \
 && npm cache clean --force

FROM ${NODE_IMAGE}
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
COPY --from=prod-deps --chown=root:root /app/node_modules ./node_modules
COPY --from=prod-deps --chown=root:root /app/package.json ./package.json
# package.json (exports/bin), dist/ of every package, and what dist/ reads: the gRPC protos
# (command-api/proto) and the dashboard's built files.
COPY --from=build --chown=root:root /app/packages ./packages
USER node
EXPOSE 3001 50051 5673
# PORT (OPS_PORT for the anchor service) is where /health answers; the dashboard answers on /.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OPS_PORT||process.env.PORT||3001)+(process.env.LIGHTDOM_API_URL?'/':'/health')).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "packages/command-api/dist/main.js"]
