# mqtt-ws-gateway: MQTT over WebSocket (80/443) and raw MQTT (1883/8883) in front of a broker.
#
#   docker build -t mqtt-ws-gateway .
#   docker run -p 80:80 -p 443:443 -p 1883:1883 -p 8883:8883 -e BROKER_URL=mqtt://broker:1883 mqtt-ws-gateway
#
# Configuration comes only from the environment (HTTP_PORT, HTTPS_PORT, MQTT_PORT, MQTTS_PORT, BROKER_URL,
# CERTS_DIR, LOG_LEVEL, ...); nothing is baked in, and .env files are kept out of the build context.
#
# Privileged ports: the gateway runs as the unprivileged `node` user (uid 1000) and still listens on 80 and 443
# by default. That works because Docker (20.10 and later) starts every container that has its own network
# namespace with net.ipv4.ip_unprivileged_port_start=0. Elsewhere, say so explicitly:
#   podman run --sysctl net.ipv4.ip_unprivileged_port_start=0 ...
#   Kubernetes: securityContext.sysctls: [{ name: net.ipv4.ip_unprivileged_port_start, value: "0" }]
# With host networking that sysctl belongs to the host, so move the listeners instead (HTTP_PORT=8080 ...).
# We deliberately do not `setcap cap_net_bind_service=+ep` the node binary: the slim image has no setcap
# (libcap2-bin), a binary with file capabilities cannot even be executed under `--cap-drop ALL` (the usual
# hardened setting), and it puts node in secure-execution mode, which ignores NODE_OPTIONS and friends.

# Any official Node.js LTS image works; the tests pass a locally made image with the same layout.
ARG BASE_IMAGE=node:20-bookworm-slim

# ---- build: all dependencies, TypeScript compiled to dist/ ----
FROM ${BASE_IMAGE} AS build
WORKDIR /app
# The lockfile alone decides the dependency layer, so source edits do not reinstall.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime: production dependencies and compiled code, owned by root, run as node ----
FROM ${BASE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
# The code stays root-owned and read-only to the process; only the certificates directory is writable,
# because without TLS_CERT/TLS_KEY the gateway generates a development certificate there on first start.
COPY --from=build /app/dist ./dist
RUN mkdir -p /app/certs && chown node:node /app/certs
USER node

EXPOSE 80 443 1883 8883
# Mount real certificates here (server.crt, server.key, optional ca.crt), or point TLS_CERT/TLS_KEY elsewhere.
VOLUME /app/certs

# node itself does the check, so the image needs no curl. It follows HTTP_PORT; the listener binds 0.0.0.0 by
# default, so loopback reaches it.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.HTTP_PORT||80)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]

# node is PID 1: main.ts handles SIGTERM/SIGINT itself (graceful close), so `docker stop` works without an init.
CMD ["node", "--enable-source-maps", "dist/main.js"]
