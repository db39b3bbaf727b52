import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CamelOciError } from '../../src/base/errors.js';
import { envName, parseCount, parseFlags } from '../../src/config/flags.js';
import { SERVE_FLAGS } from '../../src/config/tables.js';
import { renderKustomization } from './kustomize.js';
import type { KubeObject } from './kustomize.js';
import { API_SERVER_SERVICE, assignClusterIPs, kubeletEnvironment, serviceVariables } from './service-links.js';
import { installTree, only } from './support.js';
import type { InstallTree } from './support.js';

/** The Service variables of documented examples, so the simulation itself is checked before it is trusted. */
const SERVICE_VARIABLE_CASES = [
  {
    // The example of the Kubernetes documentation ("Discovering services").
    name: 'one unnamed TCP port',
    service: { metadata: { name: 'redis-master' }, spec: { clusterIP: '10.0.0.11', ports: [{ port: 6379, protocol: 'TCP' }] } },
    expected: [
      ['REDIS_MASTER_SERVICE_HOST', '10.0.0.11'],
      ['REDIS_MASTER_SERVICE_PORT', '6379'],
      ['REDIS_MASTER_PORT', 'tcp://10.0.0.11:6379'],
      ['REDIS_MASTER_PORT_6379_TCP', 'tcp://10.0.0.11:6379'],
      ['REDIS_MASTER_PORT_6379_TCP_PROTO', 'tcp'],
      ['REDIS_MASTER_PORT_6379_TCP_PORT', '6379'],
      ['REDIS_MASTER_PORT_6379_TCP_ADDR', '10.0.0.11'],
    ],
  },
  {
    name: 'named ports, the second UDP, protocol defaulting to TCP, an IPv6 cluster IP',
    service: {
      metadata: { name: 'dns-cache' },
      spec: {
        clusterIP: 'fd00::a',
        ports: [
          { name: 'dns-tcp', port: 53 },
          { name: 'dns', port: 53, protocol: 'UDP' },
        ],
      },
    },
    expected: [
      ['DNS_CACHE_SERVICE_HOST', 'fd00::a'],
      ['DNS_CACHE_SERVICE_PORT', '53'],
      ['DNS_CACHE_SERVICE_PORT_DNS_TCP', '53'],
      ['DNS_CACHE_SERVICE_PORT_DNS', '53'],
      ['DNS_CACHE_PORT', 'tcp://[fd00::a]:53'],
      ['DNS_CACHE_PORT_53_TCP', 'tcp://[fd00::a]:53'],
      ['DNS_CACHE_PORT_53_TCP_PROTO', 'tcp'],
      ['DNS_CACHE_PORT_53_TCP_PORT', '53'],
      ['DNS_CACHE_PORT_53_TCP_ADDR', 'fd00::a'],
      ['DNS_CACHE_PORT_53_UDP', 'udp://[fd00::a]:53'],
      ['DNS_CACHE_PORT_53_UDP_PROTO', 'udp'],
      ['DNS_CACHE_PORT_53_UDP_PORT', '53'],
      ['DNS_CACHE_PORT_53_UDP_ADDR', 'fd00::a'],
    ],
  },
  {
    name: 'a headless Service gives none',
    service: { metadata: { name: 'db' }, spec: { clusterIP: 'None', ports: [{ port: 5432 }] } },
    expected: [],
  },
] as const;

for (const c of SERVICE_VARIABLE_CASES) {
  test(`kubelet simulation: the variables of a Service with ${c.name}`, () => {
    assert.deepEqual(serviceVariables(structuredClone(c.service) as KubeObject), c.expected);
  });
}

let tree: InstallTree;
let objects: KubeObject[];
let podSpec: KubeObject;
let webhook: KubeObject;
let namespace: string;
/** The rendered Services, with the cluster IPs the API server would give them. */
let services: KubeObject[];

before(async () => {
  tree = await installTree();
  objects = renderKustomization(tree.manifests);
  const deployment = only(objects, 'Deployment', 'camel-oci');
  namespace = deployment.metadata.namespace as string;
  podSpec = deployment.spec.template.spec as KubeObject;
  const container = (podSpec.containers as KubeObject[]).find((c) => c.name === 'webhook');
  assert.ok(container, 'a container named webhook');
  webhook = container;
  services = assignClusterIPs(objects.filter((o) => o.kind === 'Service'));
});
after(() => tree.cleanup());

/** The webhook container's environment in a running pod of this pod spec. */
function podEnvironment(spec: KubeObject): Record<string, string> {
  const container = (spec.containers as KubeObject[]).find((c) => c.name === 'webhook');
  assert.ok(container, 'a container named webhook');
  return kubeletEnvironment(spec, container, namespace, services);
}

/** serve's argv as the container runs it (the image's ENTRYPOINT is camel-oci). */
function serveArgv(spec: KubeObject): string[] {
  const container = (spec.containers as KubeObject[]).find((c) => c.name === 'webhook');
  const args = container?.args as string[];
  assert.equal(args[0], 'serve');
  return args;
}

test('the webhook pod asks for no Service variables (enableServiceLinks: false)', () => {
  assert.equal(podSpec.enableServiceLinks, false);
});

test("with what the kubelet adds, the webhook container's env and args parse into serve's numeric port 8443", () => {
  const env = podEnvironment(podSpec);
  const parsed = parseFlags('serve', SERVE_FLAGS, serveArgv(podSpec).slice(1), env, true);
  // What runServe does first with --port; a docker-link URL there is the crash loop.
  const port = parseCount(parsed.values.port as string, 'port', 65535);
  const containerPort = (webhook.ports as KubeObject[]).find((p) => p.name === 'https')?.containerPort as number;
  assert.equal(port, containerPort);
  assert.equal(port, 8443);
  // No variable that serve reads as a flag comes from anywhere but the container spec.
  const fromSpec = new Set(((webhook.env ?? []) as KubeObject[]).map((e) => e.name as string));
  const flagVariables = new Set(Object.keys(SERVE_FLAGS).map(envName));
  assert.deepEqual(
    Object.keys(env).filter((name) => flagVariables.has(name) && !fromSpec.has(name)),
    [],
    'the kubelet sets no CAMEL_OCI_<FLAG> variable',
  );
  assert.deepEqual(
    Object.keys(env).filter((name) => name.startsWith('CAMEL_OCI_') && !fromSpec.has(name)),
    [],
  );
  // The API server's variables stay: serve's --pull-secrets=auto and the Kubernetes client rely on them.
  assert.equal(env.KUBERNETES_SERVICE_HOST, API_SERVER_SERVICE.spec.clusterIP);
  assert.equal(env.KUBERNETES_SERVICE_PORT, '443');
});

test('without enableServiceLinks: false, the Service camel-oci would hand serve a tcp:// URL as --port', () => {
  const linked = structuredClone(podSpec);
  delete linked.enableServiceLinks;
  const env = podEnvironment(linked);
  const service = only(services, 'Service', 'camel-oci');
  const url = `tcp://${String(service.spec.clusterIP)}:443`;
  assert.equal(env[envName('port')], url, 'the docker-link variable of the Service camel-oci');
  assert.equal(env.CAMEL_OCI_PORT_443_TCP, url);
  assert.equal(env.CAMEL_OCI_SERVICE_HOST, service.spec.clusterIP);
  // The same parse as above now yields no port number: the pod would depend on serve tolerating it.
  const parsed = parseFlags('serve', SERVE_FLAGS, serveArgv(linked).slice(1), env, true);
  assert.equal(parsed.values.port, url);
  assert.throws(
    () => parseCount(parsed.values.port as string, 'port', 65535),
    (err: unknown) => err instanceof CamelOciError && err.code === 'CONFIG_INVALID',
  );
});
