# syntax=docker/dockerfile:1
# One image for every LightDom service; the command picks the service (see deploy/compose.yaml):
#   docker build -t lightdom:0.1.0 .
#   docker run --rm lightdom:0.1.0                                   # command-api
#   docker run --rm lightdom:0.1.0 node packages/projector/dist/main.js
# Stages: `build` compiles TypeScript (and the dashboard) with every dependency; `prod-deps`
# installs production dependencies only; the final stage holds those, the compiled dist/
# trees and the few files they read at run time, and runs as the unprivileged `node` user.
# (One base image, pinned, for every stage; HEALTHCHECK has no --start-period because
# dockerfilelint 1.8 misreads it: compose and Kubernetes set their own start delays.)

FROM node:20.19.5-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json turbo.json tsconfig.base.json ./
COPY contracts/package.json ./contracts/
COPY packages ./packages
# --ignore-scripts: no install script is needed to compile (native add-ons belong to Hardhat's tooling).
RUN npm ci --ignore-scripts --no-audit --no-fund
RUN npx turbo run build --filter='!@lightdom/testkit' \
 && npx esbuild packages/dashboard/serve.ts --bundle --platform=node --format=esm \
      --packages=external --outfile=packages/dashboard/serve.mjs

FROM node:20.19.5-bookworm-slim AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY contracts/package.json ./contracts/
COPY packages ./packages
# Production dependencies of the service workspaces only (not Hardhat, not the dev tools).
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
      -w @lightdom/command-api -w @lightdom/projector -w @lightdom/executor \
      -w @lightdom/ai-worker -w @lightdom/anchor -w @lightdom/audit \
 && npm cache clean --force

# A local Hardhat chain for the anchor service (compose's `hardhat`; a development chain only).
FROM node:20.19.5-bookworm-slim AS hardhat
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages ./packages
COPY contracts ./contracts
RUN npm ci --ignore-scripts --no-audit --no-fund -w @lightdom/contracts \
 && npm cache clean --force \
 && chown -R node:node /app/contracts
WORKDIR /app/contracts
USER node
EXPOSE 8545
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8545',{method:'POST',headers:{'content-type':'application/json'},body:'{\\"jsonrpc\\":\\"2.0\\",\\"id\\":1,\\"method\\":\\"eth_chainId\\"}'}).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["npx", "--no-install", "hardhat", "node", "--hostname", "0.0.0.0"]

# The services' image (the default target).
FROM node:20.19.5-bookworm-slim
ENV NODE_ENV=production HOST=0.0.0.0
WORKDIR /app
COPY --from=prod-deps --chown=root:root /app/node_modules ./node_modules
COPY --from=prod-deps --chown=root:root /app/package.json ./package.json
# package.json (exports/bin), dist/ of every package, and what dist/ reads: the gRPC protos
# (command-api/proto) and the dashboard's built files.
COPY --from=build --chown=root:root /app/packages ./packages
# The mount point of compose's chain-state volume: a new named volume takes its owner from here.
RUN mkdir -p /var/lib/lightdom-chain && chown node:node /var/lib/lightdom-chain
USER node
EXPOSE 3001 50051 5673
# PORT (OPS_PORT for the anchor service) is where /health answers; the dashboard answers on /.
HEALTHCHECK --interval=10s --timeout=3s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.OPS_PORT||process.env.PORT||3001)+(process.env.LIGHTDOM_API_URL?'/':'/health')).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "packages/command-api/dist/main.js"]
