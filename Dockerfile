# camel-oci: one image for the admission webhook (`camel-oci serve`, the default command) and the
# init container it injects (`camel-oci fetch`).
#
#   docker build -t camel-oci:0.1.0 .
#   docker build --build-arg BASE=registry.example.com/mirror/node:24-bookworm-slim -t camel-oci:0.1.0 .
#
# BASE must provide node 24 on PATH (the CLI starts with `#!/usr/bin/env node`), npm and a shell.
# Node 24 is the supported LTS line (20 is end of life); .ci/run runs the test suite on Node 24 as
# well as on the machine's Node, so what ships is what was tested.
# The same base serves every stage, so what was installed is what runs.
ARG BASE=node:24-bookworm-slim

# Compile TypeScript with the full (dev) dependency tree.
FROM ${BASE} AS build
WORKDIR /opt/camel-oci
COPY package.json package-lock.json ./
# No dependency needs an install script; refusing them keeps the build from running registry code.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.base.json ./
COPY src ./src
COPY scripts ./scripts
# Readable by any UID: the fetcher runs as the integration's UID (often 1000), the webhook as 65532.
RUN npm run build \
 && chmod -R a+rX,go-w dist package.json \
 && chmod 0755 dist/cli.js

# Production dependencies only (the runtime copies node_modules alone, not npm's cache). A stage of
# its own so that it stays cached while src/ changes.
FROM ${BASE} AS deps
WORKDIR /opt/camel-oci
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && chmod -R a+rX,go-w node_modules

FROM ${BASE}
LABEL org.opencontainers.image.title="camel-oci" \
      org.opencontainers.image.description="Admission webhook and init container that give Camel K integrations Java dependencies and Kamelets from OCI registries" \
      org.opencontainers.image.licenses="Apache-2.0"
# Nothing is written at run time: no npm, no cache, no HOME; the root filesystem may be read-only.
ENV NODE_ENV=production
WORKDIR /opt/camel-oci
COPY --from=deps /opt/camel-oci/node_modules ./node_modules
# package.json beside dist/ gives `camel-oci --version` (dist/ and dist/lib/ carry their own, which
# say what kind of module their files are).
COPY --from=build /opt/camel-oci/package.json ./package.json
COPY --from=build /opt/camel-oci/dist ./dist
# The injected init container runs `camel-oci fetch ...` as its command, so it must be on PATH.
RUN ln -s /opt/camel-oci/dist/cli.js /usr/local/bin/camel-oci
# Node's compile cache, filled now for every module `serve` loads at start (its time to ready), and
# beside it the fetch bundle's own code cache (dist/fetch.cjs; src/base/code-cache.ts), made by one
# real fetch from a stand-in registry on loopback, so that it holds every function a fetch compiles:
# the init container's start is most of a small fetch (bench/RESULTS.md). The warm-up also fails
# the build when the built fetch does not work. At run time both caches are only read (the root
# filesystem may be read-only; a cache that cannot be written costs nothing). Keyed by Node's (V8's)
# version and each file's content; owned by root and writable by nobody else, as the fetcher
# requires of a code cache before it reads one.
ENV NODE_COMPILE_CACHE=/opt/camel-oci/compile-cache
COPY --from=build /opt/camel-oci/scripts/warm-fetch-cache.mjs /tmp/warm-fetch-cache.mjs
RUN camel-oci --version \
 && node /tmp/warm-fetch-cache.mjs /opt/camel-oci/dist/cli.js \
 && node -e "import('/opt/camel-oci/dist/lib/commands/serve.js')" \
 && rm /tmp/warm-fetch-cache.mjs \
 && chmod -R a+rX,go-w /opt/camel-oci/compile-cache
# Numeric, so runAsNonRoot can verify it; any other UID works too (files are world-readable).
USER 65532:65532
ENTRYPOINT ["camel-oci"]
CMD ["serve"]
