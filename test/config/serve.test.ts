import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { version } from '../../src/base/version.js';
import { loadServeConfig } from '../../src/config/serve.js';
import { assertConfigInvalid, assertDeepFrozen, flagsOf } from './support.js';
import type { Env } from './support.js';

const load = (argv: string[] = [], env: Env = {}) => loadServeConfig(flagsOf('serve', argv, env), env);

describe('loadServeConfig', () => {
  it('has the documented defaults, frozen', () => {
    const c = load();
    assert.deepEqual(c, {
      port: 8443,
      metricsPort: undefined,
      address: '127.0.0.1',
      tls: { kind: 'development', certsDir: path.resolve('certs/dev') },
      onError: 'deny',
      logLevel: 'info',
      shutdownDelayMs: 5000,
      pullSecretsMode: 'auto',
      readPullSecrets: false,
      fetcher: {
        fetcherImage: `camel-oci:${version()}`,
        volumeSizeLimit: '512Mi',
        fetchTimeoutSeconds: 50,
        imageVolumes: false,
        meshExclusions: 'auto',
      },
      resolver: {
        registryConfigs: [],
        insecureRegistries: [],
        allowRegistries: [],
        caFiles: [],
        mirrors: new Map(),
        platform: 'linux/amd64',
        tagTtlMs: 60_000,
        staleGraceMs: 600_000,
      },
    });
    assertDeepFrozen(c);
    assert.throws(() => {
      (c as { port: number }).port = 1;
    }, TypeError);
  });

  it('takes --image-volumes, or CAMEL_OCI_IMAGE_VOLUMES (off by default)', () => {
    assert.equal(load(['--image-volumes']).fetcher.imageVolumes, true);
    assert.equal(load([], { CAMEL_OCI_IMAGE_VOLUMES: '1' }).fetcher.imageVolumes, true);
    assert.equal(load([], { CAMEL_OCI_IMAGE_VOLUMES: 'no' }).fetcher.imageVolumes, false);
  });

  it('takes --mesh-exclusions from CAMEL_OCI_MESH_EXCLUSIONS (auto by default)', () => {
    assert.equal(load([]).fetcher.meshExclusions, 'auto');
    assert.equal(load([], { CAMEL_OCI_MESH_EXCLUSIONS: 'off' }).fetcher.meshExclusions, 'off');
  });

  it('takes --metrics-port as a port, 0 or off for none, CAMEL_OCI_METRICS_PORT, and a docker-link value as the default', () => {
    assert.equal(load(['--metrics-port', '9191']).metricsPort, 9191);
    assert.equal(load(['--metrics-port', 'off']).metricsPort, undefined);
    assert.equal(load(['--metrics-port', 'OFF']).metricsPort, undefined);
    assert.equal(load(['--metrics-port', '0']).metricsPort, undefined);
    assert.equal(load([], { CAMEL_OCI_METRICS_PORT: '9292' }).metricsPort, 9292);
    assert.equal(load([], { CAMEL_OCI_METRICS_PORT: 'off' }).metricsPort, undefined);
    assert.equal(load(['--metrics-port', '9393'], { CAMEL_OCI_METRICS_PORT: 'off' }).metricsPort, 9393);
    // A Service named camel-oci-metrics gives pods CAMEL_OCI_METRICS_PORT=tcp://...: not our flag.
    assert.equal(load([], { CAMEL_OCI_METRICS_PORT: 'tcp://10.0.0.7:9090' }).metricsPort, undefined);
  });

  it('refuses a --metrics-port that is not a port, or is the webhook port', () => {
    for (const bad of ['65536', '-1', 'http', '90.5', '']) assertConfigInvalid(() => load(['--metrics-port', bad]), /--metrics-port/);
    assertConfigInvalid(() => load(['--metrics-port', '8443']), /--metrics-port 8443 is also --port/);
    assertConfigInvalid(() => load(['--port', '9090', '--metrics-port', '9090']), /--metrics-port 9090 is also --port/);
    // Off by default, so the webhook may take 9090 itself (Prometheus' port, often busy on a workstation).
    assert.equal(load(['--port', '9090']).port, 9090);
  });

  it('reads CAMEL_OCI_* variables; a flag wins over its variable', () => {
    const env = {
      CAMEL_OCI_PORT: '9443',
      CAMEL_OCI_ON_ERROR: 'allow',
      CAMEL_OCI_LOG_LEVEL: 'debug',
      CAMEL_OCI_ALLOW_REGISTRY: 'registry.example.com, *.corp.example',
      CAMEL_OCI_FETCH_TIMEOUT: '1500ms',
      CAMEL_OCI_TAG_TTL: '5m',
      CAMEL_OCI_FETCHER_IMAGE: 'registry.example.com/camel-oci@sha256:' + 'ab'.repeat(32),
    };
    const c = load([], env);
    assert.equal(c.port, 9443);
    assert.equal(c.onError, 'allow');
    assert.equal(c.logLevel, 'debug');
    assert.deepEqual(c.resolver.allowRegistries, ['registry.example.com', '*.corp.example']);
    assert.equal(c.fetcher.fetchTimeoutSeconds, 2, 'rounded up to whole seconds');
    assert.equal(c.resolver.tagTtlMs, 300_000);
    assert.equal(c.fetcher.fetcherImage, env.CAMEL_OCI_FETCHER_IMAGE);
    assert.equal(load(['--port', '7443'], env).port, 7443);
    assert.deepEqual(load(['--allow-registry', 'a.example'], env).resolver.allowRegistries, ['a.example']);
  });

  it('ignores a docker-link CAMEL_OCI_PORT (tcp://...) of a Service named camel-oci', () => {
    assert.equal(load([], { CAMEL_OCI_PORT: 'tcp://10.0.0.1:443' }).port, 8443);
  });

  it('listens everywhere with a given certificate, on loopback with a development one', () => {
    const c = load(['--tls-cert', 'tls.crt', '--tls-key', 'tls.key']);
    assert.deepEqual(c.tls, { kind: 'files', certFile: 'tls.crt', keyFile: 'tls.key' });
    assert.equal(c.address, undefined);
    assert.equal(load(['--address', '::1']).address, '::1');
    assert.deepEqual(load(['--certs-dir', 'elsewhere']).tls, { kind: 'development', certsDir: path.resolve('elsewhere') });
  });

  it('reads pull secrets with true, with auto only inside a cluster, never with false', () => {
    const inCluster = { KUBERNETES_SERVICE_HOST: '10.96.0.1' };
    assert.equal(load([], inCluster).readPullSecrets, true);
    assert.equal(load(['--pull-secrets', 'true']).readPullSecrets, true);
    assert.equal(load(['--pull-secrets', 'false'], inCluster).readPullSecrets, false);
    assert.equal(load(['--pull-secrets', 'false'], inCluster).pullSecretsMode, 'false');
  });

  const invalid: { name: string; argv: string[]; env?: Env; message: RegExp }[] = [
    { name: 'an argument', argv: ['extra'], message: /^camel-oci serve takes no arguments \(got extra\)$/ },
    { name: 'port 0', argv: ['--port', '0'], message: /^--port: "0" must be a whole number from 1 to 65535$/ },
    { name: 'port 65536', argv: ['--port', '65536'], message: /^--port: "65536" must be a whole number from 1 to 65535$/ },
    { name: 'a port from the environment that is not a number', argv: [], env: { CAMEL_OCI_PORT: 'https' }, message: /^--port: "https"/ },
    {
      name: 'an unknown log level',
      argv: ['--log-level', 'loud'],
      message: /^--log-level must be one of trace, debug, info, warn, error, fatal, silent, not "loud"$/,
    },
    {
      name: 'a shutdown delay that is no duration',
      argv: ['--shutdown-delay', 'soon'],
      message: /^--shutdown-delay: "soon" is not a duration/,
    },
    { name: 'an unknown on-error', argv: ['--on-error', 'ignore'], message: /^--on-error must be deny or allow, not "ignore"$/ },
    { name: 'a certificate without its key', argv: ['--tls-cert', 'tls.crt'], message: /^--tls-cert and --tls-key go together/ },
    { name: 'a key without its certificate', argv: ['--tls-key', 'tls.key'], message: /^--tls-cert and --tls-key go together/ },
    {
      name: 'a fetch timeout that is no duration',
      argv: ['--fetch-timeout', '1 minute'],
      message: /^--fetch-timeout: "1 minute" is not a duration/,
    },
    {
      name: 'a malformed platform',
      argv: ['--platform', 'linux'],
      message: /^--platform: invalid platform "linux": expected os\/architecture\[\/variant\]/,
    },
    { name: 'a tag TTL that is no duration', argv: ['--tag-ttl', 'x'], message: /^--tag-ttl: "x" is not a duration/ },
    { name: 'a stale grace that is no duration', argv: ['--stale-grace', 'x'], message: /^--stale-grace: "x" is not a duration/ },
    {
      name: 'an unknown pull-secrets mode',
      argv: ['--pull-secrets', 'maybe'],
      message: /^--pull-secrets must be auto, true or false, not "maybe"$/,
    },
  ];
  for (const c of invalid) {
    it(`refuses ${c.name} with CONFIG_INVALID`, () => assertConfigInvalid(() => load(c.argv, c.env), c.message));
  }
});

describe('loadServeConfig: self-managed certificates', () => {
  it('defaults to files, and reads the Secret, webhook configuration and Service names in self-managed mode', () => {
    assert.equal(load([]).tls.kind, 'development');
    assert.deepEqual(load(['--certificates', 'self-managed']).tls, {
      kind: 'self-managed',
      secretName: 'camel-oci-tls',
      webhookName: 'camel-oci',
      service: 'camel-oci',
    });
    assert.deepEqual(load([], { CAMEL_OCI_CERTIFICATES: 'self-managed', CAMEL_OCI_TLS_SECRET: 'tls' }).tls, {
      kind: 'self-managed',
      secretName: 'tls',
      webhookName: 'camel-oci',
      service: 'camel-oci',
    });
  });
  it('refuses an unknown mode, and certificate files in self-managed mode', () => {
    assert.throws(() => load(['--certificates', 'auto']), /--certificates must be files or self-managed/);
    assert.throws(() => load(['--certificates', 'self-managed', '--tls-cert', 'a', '--tls-key', 'b']), /drop --tls-cert and --tls-key/);
  });
});
