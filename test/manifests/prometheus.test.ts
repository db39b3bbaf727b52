import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { Ajv } from 'ajv';
import { stringify } from 'yaml';
import { serviceDnsNames } from '../../src/certs/x509.js';
import { kubectlKustomize, kubectlUnavailable, objectKey, renderKustomization, sortedByKey, type KubeObject } from './kustomize.js';
import { matchesLabelSelector } from './selectors.js';
import { MANIFESTS_DIR, kubeSchemaError, only } from './support.js';

const KUBECTL_MISSING = kubectlUnavailable();
const kubectlSkip = KUBECTL_MISSING === undefined ? false : `${KUBECTL_MISSING}: kubectl kustomize check skipped`;
const COMPONENT = path.join(MANIFESTS_DIR, 'prometheus');

/**
 * The part of the Prometheus Operator's PodMonitor schema (monitoring.coreos.com/v1) the component
 * uses, closed with additionalProperties: false so a misspelt field fails here as the CRD's
 * structural schema would prune (and so silently drop) it.
 */
const POD_MONITOR_SCHEMA = {
  type: 'object',
  required: ['apiVersion', 'kind', 'metadata', 'spec'],
  properties: {
    apiVersion: { const: 'monitoring.coreos.com/v1' },
    kind: { const: 'PodMonitor' },
    metadata: { type: 'object', required: ['name', 'namespace'], properties: { name: { type: 'string' }, namespace: { type: 'string' } } },
    spec: {
      type: 'object',
      additionalProperties: false,
      required: ['selector', 'podMetricsEndpoints'],
      properties: {
        selector: {
          type: 'object',
          additionalProperties: false,
          properties: { matchLabels: { type: 'object', additionalProperties: { type: 'string' } }, matchExpressions: { type: 'array' } },
        },
        podMetricsEndpoints: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['port', 'path'],
            properties: {
              port: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$', maxLength: 15 },
              path: { type: 'string' },
              scheme: { enum: ['http', 'https'] },
              interval: { type: 'string', pattern: '^(0|(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$' },
              tlsConfig: {
                type: 'object',
                additionalProperties: false,
                properties: {
                  ca: {
                    type: 'object',
                    additionalProperties: false,
                    properties: {
                      secret: {
                        type: 'object',
                        additionalProperties: false,
                        required: ['name', 'key'],
                        properties: { name: { type: 'string' }, key: { type: 'string' } },
                      },
                    },
                  },
                  serverName: { type: 'string' },
                  insecureSkipVerify: { type: 'boolean' },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

const validatePodMonitor = new Ajv({ allErrors: true, strict: true }).compile(POD_MONITOR_SCHEMA);

/** An overlay of manifests/install with the component (and, when switched, the plain-http one after it). */
async function overlay(t: test.TestContext, switched: boolean, namespace?: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-prometheus-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const o = path.join(dir, 'overlay');
  await mkdir(o);
  const rel = (p: string): string => path.relative(o, p);
  await writeFile(
    path.join(o, 'kustomization.yaml'),
    stringify({
      ...(namespace !== undefined ? { namespace } : {}),
      resources: [rel(path.join(MANIFESTS_DIR, 'install'))],
      components: [rel(COMPONENT), ...(switched ? [rel(path.join(COMPONENT, 'plain-http'))] : [])],
    }),
  );
  return o;
}

test("the prometheus component adds one PodMonitor that scrapes /metrics of the webhook pods over HTTPS, verifying with the Secret's CA", async (t) => {
  const objects = renderKustomization(await overlay(t, false));
  const monitor = only(objects, 'PodMonitor');
  assert.ok(validatePodMonitor(monitor), JSON.stringify(validatePodMonitor.errors));
  for (const o of objects)
    if (o !== monitor && o.kind !== 'Role' && o.kind !== 'RoleBinding') assert.equal(kubeSchemaError(o), undefined, objectKey(o));
  const deployment = only(objects, 'Deployment');
  const service = only(objects, 'Service');
  assert.equal(monitor.metadata.namespace, deployment.metadata.namespace, 'a PodMonitor selects pods of its own namespace');
  assert.ok(matchesLabelSelector(monitor.spec.selector, deployment.spec.template.metadata.labels), 'it selects the webhook pods');
  const other = only(objects, 'Namespace').metadata.labels as Record<string, string>;
  assert.equal(matchesLabelSelector(monitor.spec.selector, other), false, 'and not anything labelled like the namespace');
  const [endpoint] = monitor.spec.podMetricsEndpoints as KubeObject[];
  const ports = deployment.spec.template.spec.containers[0].ports as KubeObject[];
  assert.ok(
    ports.some((p) => p.name === endpoint!.port),
    `the container has a port named ${String(endpoint!.port)}`,
  );
  assert.equal(endpoint!.path, '/metrics');
  assert.equal(endpoint!.scheme, 'https');
  assert.equal(endpoint!.tlsConfig.ca.secret.name, 'camel-oci-tls');
  assert.equal(endpoint!.tlsConfig.ca.secret.key, 'ca.crt');
  assert.ok(
    serviceDnsNames(service.metadata.name, service.metadata.namespace).includes(endpoint!.tlsConfig.serverName),
    'a name the serving certificate holds',
  );
  assert.notEqual(endpoint!.tlsConfig.insecureSkipVerify, true);
});

test('moved to another namespace by an overlay, the PodMonitor follows and still verifies the right name', async (t) => {
  const objects = renderKustomization(await overlay(t, false, 'observed'));
  const monitor = only(objects, 'PodMonitor');
  const service = only(objects, 'Service');
  assert.equal(monitor.metadata.namespace, 'observed');
  assert.equal(service.metadata.namespace, 'observed');
  const [endpoint] = monitor.spec.podMetricsEndpoints as KubeObject[];
  assert.ok(serviceDnsNames(service.metadata.name, 'observed').includes(endpoint!.tlsConfig.serverName));
});

test('the PodMonitor check rejects a misspelt field (so its silence means something)', () => {
  assert.equal(
    validatePodMonitor({
      apiVersion: 'monitoring.coreos.com/v1',
      kind: 'PodMonitor',
      metadata: { name: 'a', namespace: 'b' },
      spec: { selector: {}, podMetricEndpoints: [] },
    }),
    false,
  );
});

test('switching to the plain-HTTP port named metrics is one patch: port metrics, scheme http, no TLS', async (t) => {
  const objects = renderKustomization(await overlay(t, true));
  const monitor = only(objects, 'PodMonitor');
  assert.ok(validatePodMonitor(monitor), JSON.stringify(validatePodMonitor.errors));
  assert.deepEqual(monitor.spec.podMetricsEndpoints, [{ port: 'metrics', path: '/metrics', scheme: 'http', interval: '30s' }]);
});

test('kubectl kustomize renders the prometheus overlays the same way', { skip: kubectlSkip }, async (t) => {
  for (const switched of [false, true]) {
    const o = await overlay(t, switched);
    assert.deepEqual(sortedByKey(kubectlKustomize(o)), sortedByKey(renderKustomization(o)));
  }
});
