import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { version } from '../../src/base/version.js';
import { loadCertsConfig } from '../../src/config/certs.js';
import { loadInjectConfig } from '../../src/config/inject.js';
import { loadResolveConfig } from '../../src/config/resolve.js';
import { assertConfigInvalid, assertDeepFrozen, flagsOf } from './support.js';

const RESOLVER_DEFAULTS = {
  registryConfigs: [],
  insecureRegistries: [],
  allowRegistries: [],
  caFiles: [],
  mirrors: new Map(),
  platform: 'linux/amd64',
  tagTtlMs: 60_000,
  staleGraceMs: 600_000,
};

describe('loadResolveConfig', () => {
  it('has the documented defaults, frozen, and reads no variables', () => {
    const c = loadResolveConfig(
      flagsOf('resolve', ['container:registry.example.com/a:1'], { CAMEL_OCI_PLATFORM: 'linux/arm64', CAMEL_OCI_TIMEOUT: '1s' }),
    );
    assert.deepEqual(c, {
      references: ['container:registry.example.com/a:1'],
      json: false,
      timeoutMs: 30_000,
      resolver: RESOLVER_DEFAULTS,
    });
    assertDeepFrozen(c);
  });

  it('takes the flags', () => {
    const c = loadResolveConfig(
      flagsOf('resolve', [
        'a',
        'b',
        '--json',
        '--timeout',
        '2s',
        '--platform',
        'linux/arm64/v8',
        '--ca-file',
        'x.pem',
        '--ca-file',
        'y.pem',
      ]),
    );
    assert.deepEqual(c.references, ['a', 'b']);
    assert.equal(c.json, true);
    assert.equal(c.timeoutMs, 2000);
    assert.equal(c.resolver.platform, 'linux/arm64/v8');
    assert.deepEqual(c.resolver.caFiles, ['x.pem', 'y.pem']);
  });

  it('refuses no reference, a bad timeout and a bad platform with CONFIG_INVALID', () => {
    assertConfigInvalid(
      () => loadResolveConfig(flagsOf('resolve')),
      /^camel-oci resolve: give at least one reference, e\.g\. camel-oci resolve container:docker\.io\/acme\/deps:1\.0$/,
    );
    assertConfigInvalid(() => loadResolveConfig(flagsOf('resolve', ['a', '--timeout', 'x'])), /^--timeout: "x" is not a duration/);
    assertConfigInvalid(() => loadResolveConfig(flagsOf('resolve', ['a', '--platform', 'a/b/c/d'])), /invalid platform "a\/b\/c\/d"/);
  });
});

describe('loadInjectConfig', () => {
  it('has the documented defaults, frozen', () => {
    const c = loadInjectConfig(flagsOf('inject', ['-f', 'pod.yaml']));
    assert.deepEqual(c, {
      file: 'pod.yaml',
      timeoutMs: 30_000,
      fetcher: {
        fetcherImage: `camel-oci:${version()}`,
        volumeSizeLimit: '512Mi',
        fetchTimeoutSeconds: 50,
        imageVolumes: false,
        meshExclusions: 'auto',
      },
      resolver: RESOLVER_DEFAULTS,
    });
    assertDeepFrozen(c);
  });

  it('takes --image-volumes (a CLI command reads no CAMEL_OCI_* env)', () => {
    assert.equal(loadInjectConfig(flagsOf('inject', ['-f', 'x', '--image-volumes'])).fetcher.imageVolumes, true);
    assert.equal(loadInjectConfig(flagsOf('inject', ['-f', 'x'], { CAMEL_OCI_IMAGE_VOLUMES: 'true' })).fetcher.imageVolumes, false);
  });

  it('takes --mesh-exclusions auto or off, and refuses anything else naming the flag', () => {
    assert.equal(loadInjectConfig(flagsOf('inject', ['-f', 'x', '--mesh-exclusions', 'OFF'])).fetcher.meshExclusions, 'off');
    assertConfigInvalid(
      () => loadInjectConfig(flagsOf('inject', ['-f', 'x', '--mesh-exclusions', 'istio'])),
      /^--mesh-exclusions: "istio" must be auto or off$/,
    );
  });

  it('takes the file from -f, else the first argument; -f wins', () => {
    assert.equal(loadInjectConfig(flagsOf('inject', ['pod.yaml'])).file, 'pod.yaml');
    assert.equal(loadInjectConfig(flagsOf('inject', ['--filename', '-', 'pod.yaml'])).file, '-');
    const c = loadInjectConfig(
      flagsOf('inject', ['-f', '-', '--fetcher-image', 'img:1', '--volume-size-limit', '2Gi', '--fetch-timeout', '90s']),
    );
    assert.deepEqual(c.fetcher, {
      fetcherImage: 'img:1',
      volumeSizeLimit: '2Gi',
      fetchTimeoutSeconds: 90,
      imageVolumes: false,
      meshExclusions: 'auto',
    });
  });

  it('refuses no file, and bad durations, with CONFIG_INVALID', () => {
    assertConfigInvalid(() => loadInjectConfig(flagsOf('inject')), /^camel-oci inject: give -f FILE, or -f - to read standard input$/);
    assertConfigInvalid(
      () => loadInjectConfig(flagsOf('inject', ['-f', 'x', '--fetch-timeout', 'x'])),
      /^--fetch-timeout: "x" is not a duration/,
    );
    assertConfigInvalid(() => loadInjectConfig(flagsOf('inject', ['-f', 'x', '--timeout', 'x'])), /^--timeout: "x" is not a duration/);
    assertConfigInvalid(
      () => loadInjectConfig(flagsOf('inject', ['-f', 'x', '--stale-grace', 'x'])),
      /^--stale-grace: "x" is not a duration/,
    );
  });
});

describe('loadCertsConfig', () => {
  it('refuses an empty --out (it would write private keys into the working directory)', () => {
    assertConfigInvalid(() => loadCertsConfig(flagsOf('certs', ['--out', ''])), /^--out: empty/);
    assertConfigInvalid(() => loadCertsConfig(flagsOf('certs', ['--out', '  '])), /^--out: empty/);
  });

  it('has the documented defaults, frozen', () => {
    const c = loadCertsConfig(flagsOf('certs'));
    assert.deepEqual(c, {
      service: 'camel-oci',
      namespace: 'camel-oci',
      out: 'certs',
      validityDays: 365,
      force: false,
      extraDnsNames: [],
      ipAddresses: [],
    });
    assertDeepFrozen(c);
  });

  it('takes the flags', () => {
    const c = loadCertsConfig(
      flagsOf('certs', [
        '--service',
        's',
        '--namespace',
        'n',
        '--out',
        'o',
        '--validity-days',
        '3650',
        '--force',
        '--dns-name',
        'a,b',
        '--ip-address',
        '127.0.0.1',
      ]),
    );
    assert.deepEqual(c, {
      service: 's',
      namespace: 'n',
      out: 'o',
      validityDays: 3650,
      force: true,
      extraDnsNames: ['a', 'b'],
      ipAddresses: ['127.0.0.1'],
    });
  });

  it('refuses arguments and a validity outside 1..3650 days with CONFIG_INVALID', () => {
    assertConfigInvalid(() => loadCertsConfig(flagsOf('certs', ['now'])), /^camel-oci certs takes no arguments \(got now\)$/);
    for (const days of ['0', '3651', 'a year']) {
      assertConfigInvalid(
        () => loadCertsConfig(flagsOf('certs', ['--validity-days', days])),
        /^--validity-days: .* must be a whole number from 1 to 3650$/,
      );
    }
  });
});
