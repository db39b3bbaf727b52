import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  MAX_DOCKER_CONFIG_CHARS,
  credentialFor,
  matchCredential,
  parseDockerConfig,
  type Credential,
  type DockerConfig,
} from '../../src/oci/docker-config.js';
import { isCamelOciError } from '../../src/base/errors.js';
import { fixtureJson, fixtureText } from '../helpers/fixtures.js';

const DIR = 'docker-config-auth';
const FOO_BAR = 'Zm9vOmJhcg=='; // base64("foo:bar")
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** A config.json with one entry per key; `auth` of user:pass built from the pair. */
function config(entries: Record<string, { user: string; pass: string } | Record<string, unknown>>, source = 'test config'): DockerConfig {
  const auths: Record<string, unknown> = {};
  for (const [key, e] of Object.entries(entries)) {
    auths[key] = 'user' in e && 'pass' in e ? { auth: b64(`${String(e['user'])}:${String(e['pass'])}`) } : e;
  }
  return parseDockerConfig(JSON.stringify({ auths }), source);
}

function basic(username: string, password: string): Credential {
  return { kind: 'basic', username, password };
}

/**
 * Splits an image name the way a reference parser does before credentialFor sees it: the first
 * component is a registry when it has '.' or ':' or is localhost, else the image is on Docker Hub
 * (single names gain `library/`).
 */
function splitImage(image: string): { domain: string; repository: string } {
  const slash = image.indexOf('/');
  const first = slash < 0 ? image : image.slice(0, slash);
  if (slash >= 0 && (/[.:]/.test(first) || first === 'localhost')) return { domain: first, repository: image.slice(slash + 1) };
  if (image === '') return { domain: '', repository: '' };
  return { domain: 'docker.io', repository: slash < 0 ? `library/${image}` : image };
}

/** Splits a scheme-less `host[:port][/path]` target at the first '/'. */
function splitTarget(target: string): { domain: string; repository: string } {
  const slash = target.indexOf('/');
  return slash < 0 ? { domain: target, repository: '' } : { domain: target.slice(0, slash), repository: target.slice(slash + 1) };
}

/** Runs `fn`, asserts it throws CONFIG_INVALID, returns the error. */
function configInvalid(fn: () => unknown): Error & { context: Record<string, unknown> } {
  try {
    fn();
  } catch (err) {
    assert.ok(isCamelOciError(err, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(err)}`);
    return err as Error & { context: Record<string, unknown> };
  }
  assert.fail('expected CONFIG_INVALID, nothing was thrown');
}

describe('parseDockerConfig: kubelet vectors', () => {
  const k8s = fixtureJson<{
    dockerConfigJsonDecode: { input: string; expect: { auths: Record<string, { username: string; password: string }> } };
    legacyDockerConfigDecode: { input: string; expect: Record<string, { username: string; password: string }> };
    readDockerConfigFileFixture: { fileContent: string };
    dockerConfigEntryDecode: Array<{ input: string; expect: { username: string; password: string }; fail: boolean; comment: string }>;
    decodeAuthField: Array<{ input: string; username?: string; password?: string; fail: boolean; comment?: string }>;
  }>(`${DIR}/k8s-credentialprovider-vectors.json`);

  it('reads the .dockerconfigjson shape', () => {
    const cfg = parseDockerConfig(k8s.dockerConfigJsonDecode.input, 'secret ns/regcred');
    assert.equal(cfg.source, 'secret ns/regcred');
    assert.deepEqual(
      cfg.entries.map((e) => [e.key, e.credential]),
      Object.entries(k8s.dockerConfigJsonDecode.expect.auths).map(([k, v]) => [k, basic(v.username, v.password)]),
    );
    assert.deepEqual(
      cfg.entries.map((e) => e.host),
      ['foo.example.com', 'bar.example.com'],
    );
  });

  it('reads the legacy .dockercfg shape', () => {
    const cfg = parseDockerConfig(k8s.legacyDockerConfigDecode.input);
    assert.deepEqual(
      cfg.entries.map((e) => [e.key, e.credential]),
      Object.entries(k8s.legacyDockerConfigDecode.expect).map(([k, v]) => [k, basic(v.username, v.password)]),
    );
  });

  it('keeps the trailing newline of an `echo foo:bar | base64` password, and warns about it', () => {
    const cfg = parseDockerConfig(k8s.readDockerConfigFileFixture.fileContent, 'cfg.json');
    assert.deepEqual(cfg.entries[0]?.credential, basic('foo', 'bar\n'));
    assert.equal(cfg.warnings.length, 1);
    assert.match(cfg.warnings[0] ?? '', /newline/);
    assert.ok(!cfg.warnings[0]?.includes('bar'));
  });

  for (const v of k8s.dockerConfigEntryDecode) {
    it(`entry vector: ${v.comment}`, () => {
      const text = `{"auths": {"registry.example": ${v.input}}}`;
      if (v.fail) {
        const err = configInvalid(() => parseDockerConfig(text, 'vec'));
        assert.match(err.message, /registry\.example/);
      } else {
        assert.deepEqual(parseDockerConfig(text).entries[0]?.credential, basic(v.expect.username, v.expect.password));
      }
    });
  }

  for (const v of k8s.decodeAuthField) {
    it(`auth field vector ${v.input}${v.comment !== undefined ? ` (${v.comment})` : ''}`, () => {
      const text = JSON.stringify({ auths: { 'r.example': { auth: v.input } } });
      if (v.fail) configInvalid(() => parseDockerConfig(text));
      else assert.deepEqual(parseDockerConfig(text).entries[0]?.credential, basic(v.username ?? '', v.password ?? ''));
    });
  }
});

describe('parseDockerConfig: docker cli and Kubernetes docs vectors', () => {
  const cli = fixtureJson<{
    vectors: {
      encodeDecodeRoundTrip: Array<{ username: string; password: string; auth: string }>;
      envAuthConfigValid: { input: string; expect: Record<string, { username: string; password: string }> };
    };
    loginDocSnippets: { credHelpers_rawText_INVALID_JSON: string };
  }>(`${DIR}/docker-cli-config-rules-and-vectors.json`);

  for (const v of cli.vectors.encodeDecodeRoundTrip) {
    it(`decodes auth ${v.auth} to ${v.username}/${v.password}`, () => {
      const cfg = parseDockerConfig(JSON.stringify({ auths: { 'r.example': { auth: v.auth } } }));
      assert.deepEqual(cfg.entries[0]?.credential, basic(v.username, v.password));
    });
  }

  it('reads the DOCKER_AUTH_CONFIG example', () => {
    const cfg = parseDockerConfig(cli.vectors.envAuthConfigValid.input);
    const [key, want] = Object.entries(cli.vectors.envAuthConfigValid.expect)[0] ?? [];
    assert.ok(key !== undefined && want !== undefined);
    assert.deepEqual(credentialFor([cfg], key, 'any/repo'), basic(want.username, want.password));
  });

  it('rejects the login.md credHelpers snippet (trailing comma) with a position', () => {
    const err = configInvalid(() => parseDockerConfig(cli.loginDocSnippets.credHelpers_rawText_INVALID_JSON, '~/.docker/config.json'));
    assert.match(err.message, /~\/\.docker\/config\.json is not valid JSON \(line \d+, column \d+\)/);
  });

  it('reads the docker docs sample config.json: no entries, helpers warned about, proxy passwords never echoed', () => {
    const text = fixtureText(`${DIR}/docker-cli-docs-sample-config.json`);
    const cfg = parseDockerConfig(text, 'sample');
    assert.deepEqual(cfg.entries, []);
    assert.equal(cfg.warnings.length, 2);
    assert.match(cfg.warnings.join('\n'), /credsStore "secretservice"/);
    assert.match(cfg.warnings.join('\n'), /credHelpers/);
    assert.ok(!cfg.warnings.join('\n').includes('user:pass'));
  });

  const docs = fixtureJson<{
    dockerLoginConfigJson: unknown;
    decodedSecretExample: unknown;
    secretYamlExample: string;
    globConfigExample: { auths: Record<string, unknown> };
    globConfigExample_docsClaimsMatches: string[];
    multipleEntriesExample: { auths: Record<string, unknown> };
  }>(`${DIR}/k8s-docs-dockerconfigjson-examples.json`);

  it('rejects the docs\' elided auth "c3R...zE2" as invalid base64, naming the registry', () => {
    for (const example of [docs.dockerLoginConfigJson, docs.decodedSecretExample]) {
      const err = configInvalid(() => parseDockerConfig(JSON.stringify(example), 'docs'));
      assert.match(err.message, /docs, registry "[^"]+": "auth" is not valid base64/);
      assert.ok(!err.message.includes('c3R'));
    }
  });

  it("rejects the docs' placeholder .dockerconfigjson (base64 of plain text) as not JSON", () => {
    const encoded = /\.dockerconfigjson: (\S+)/.exec(docs.secretYamlExample)?.[1];
    assert.ok(encoded !== undefined);
    const err = configInvalid(() => parseDockerConfig(Buffer.from(encoded, 'base64').toString('utf8'), 'secret awesomeapps/myregistrykey'));
    assert.match(err.message, /secret awesomeapps\/myregistrykey is not valid JSON/);
    assert.ok(!err.message.includes('Really'));
  });

  it("matches the docs' glob example the way the kubelet does, not as the docs claim", () => {
    const [key] = Object.keys(docs.globConfigExample.auths);
    assert.equal(key, '*my-registry.io/images');
    const cfg = config({ [key]: { user: 'u', pass: 'p' } });
    const hits = docs.globConfigExample_docsClaimsMatches.filter((img) => {
      const { domain, repository } = splitTarget(img);
      return credentialFor([cfg], domain, repository) !== undefined;
    });
    // '*' never crosses '.', so the sub.* claims do not hold (see the fixture's WARNING).
    assert.deepEqual(hits, ['my-registry.io/images', 'my-registry.io/images/my-image', 'my-registry.io/images/another-image']);
  });

  it("prefers the more specific of the docs' two path entries", () => {
    const keys = Object.keys(docs.multipleEntriesExample.auths);
    assert.deepEqual(keys, ['my-registry.io/images', 'my-registry.io/images/subpath']);
    const cfg = config({ [keys[0] as string]: { user: 'images', pass: 'p' }, [keys[1] as string]: { user: 'subpath', pass: 'p' } });
    assert.deepEqual(credentialFor([cfg], 'my-registry.io', 'images/subpath/my-image'), basic('subpath', 'p'));
    assert.deepEqual(credentialFor([cfg], 'my-registry.io', 'images/my-image'), basic('images', 'p'));
  });
});

describe('parseDockerConfig: entries and errors', () => {
  it('splits auth at the first colon, so passwords keep theirs', () => {
    assert.deepEqual(config({ 'r.example': { user: 'ci', pass: 'pa:ss:word' } }).entries[0]?.credential, basic('ci', 'pa:ss:word'));
  });

  it('accepts an empty user (as the kubelet does) and trims trailing NULs from the password (as docker does)', () => {
    const cfg = parseDockerConfig(JSON.stringify({ auths: { 'r.example': { auth: b64(':tok\0\0') } } }));
    assert.deepEqual(cfg.entries[0]?.credential, basic('', 'tok'));
  });

  it('accepts line-wrapped base64 (Go skips CR/LF) and refuses unpadded base64', () => {
    const wrapped = b64(`user:${'x'.repeat(80)}`).replace(/(.{76})/g, '$1\r\n');
    assert.deepEqual(
      parseDockerConfig(JSON.stringify({ auths: { r: { auth: wrapped } } })).entries[0]?.credential,
      basic('user', 'x'.repeat(80)),
    );
    configInvalid(() => parseDockerConfig(JSON.stringify({ auths: { r: { auth: 'Zm9vOmJhcg' } } })));
  });

  it('refuses auth that decodes to bytes that are not UTF-8', () => {
    const notUtf8 = Buffer.from([0x75, 0x3a, 0xff, 0xfe]).toString('base64');
    const err = configInvalid(() => parseDockerConfig(JSON.stringify({ auths: { r: { auth: notUtf8 } } })));
    assert.match(err.message, /UTF-8/);
  });

  it('lets auth override username and password', () => {
    const cfg = parseDockerConfig(JSON.stringify({ auths: { r: { username: 'a', password: 'b', auth: b64('c:d') } } }));
    assert.deepEqual(cfg.entries[0]?.credential, basic('c', 'd'));
  });

  const identityTokens: Array<{ name: string; entry: Record<string, unknown>; expect: Credential }> = [
    { name: 'alone', entry: { identitytoken: 'rt-1' }, expect: { kind: 'identityToken', token: 'rt-1' } },
    {
      name: 'with a username field',
      entry: { username: 'alice', identitytoken: 'rt-1' },
      expect: { kind: 'identityToken', token: 'rt-1', username: 'alice' },
    },
    {
      name: 'with auth (the token wins, the username stays)',
      entry: { auth: b64('alice:pw'), identitytoken: 'rt-1' },
      expect: { kind: 'identityToken', token: 'rt-1', username: 'alice' },
    },
    { name: 'empty (ignored)', entry: { username: 'a', password: 'b', identitytoken: '' }, expect: basic('a', 'b') },
  ];
  for (const t of identityTokens) {
    it(`reads an identitytoken ${t.name}`, () => {
      assert.deepEqual(parseDockerConfig(JSON.stringify({ auths: { r: t.entry } })).entries[0]?.credential, t.expect);
    });
  }

  it('skips entries without credentials (credential-helper stubs) and registrytoken-only entries', () => {
    const cfg = parseDockerConfig(
      JSON.stringify({ auths: { 'https://index.docker.io/v1/': {}, 'a.example': { email: 'x@y' }, 'b.example': { registrytoken: 'rt' } } }),
    );
    assert.deepEqual(cfg.entries, []);
    assert.equal(cfg.warnings.length, 1);
    assert.match(cfg.warnings[0] ?? '', /"b\.example": "registrytoken" is not supported/);
    assert.ok(!cfg.warnings[0]?.includes('"rt"'));
  });

  it('skips keys it cannot parse, with a warning each', () => {
    const cfg = config({
      'bob@r.example': { user: 'u', pass: 'p' },
      'r.example:http': { user: 'u', pass: 'p' },
      '': { user: 'u', pass: 'p' },
      'ok.example': { user: 'u', pass: 'p' },
    });
    assert.deepEqual(
      cfg.entries.map((e) => e.key),
      ['ok.example'],
    );
    assert.equal(cfg.warnings.length, 3);
  });

  const keyForms: Array<{ key: string; host: string; port: string; path: string }> = [
    { key: 'https://index.docker.io/v1/', host: 'index.docker.io', port: '', path: '' },
    { key: 'http://foo.example.com', host: 'foo.example.com', port: '', path: '' },
    { key: 'Registry.Example.COM:5000', host: 'registry.example.com', port: '5000', path: '' },
    { key: 'r.example/v2/acme', host: 'r.example', port: '', path: '/acme' },
    { key: 'r.example:5000/acme/', host: 'r.example', port: '5000', path: '/acme/' },
    { key: 'r.example/v1', host: 'r.example', port: '', path: '/v1' },
    { key: 'https://*.docker.io/v1/', host: '*.docker.io', port: '', path: '' },
    { key: '[::1]:5000', host: '[::1]', port: '5000', path: '' },
    { key: 'HTTPS://r.example/acme?x=1', host: 'r.example', port: '', path: '/acme' },
  ];
  for (const k of keyForms) {
    it(`parses the key ${k.key}`, () => {
      const e = config({ [k.key]: { user: 'u', pass: 'p' } }).entries[0];
      assert.deepEqual(e && { host: e.host, port: e.port, path: e.path }, { host: k.host, port: k.port, path: k.path });
    });
  }

  it('tells the legacy shape from a config.json without auths', () => {
    assert.equal(parseDockerConfig(JSON.stringify({ 'quay.io': { auth: FOO_BAR } })).entries.length, 1);
    const helpersOnly = parseDockerConfig(JSON.stringify({ credHelpers: { 'quay.io': 'pass' } }));
    assert.deepEqual(helpersOnly.entries, []);
    assert.equal(helpersOnly.warnings.length, 1);
    assert.deepEqual(parseDockerConfig('{}').entries, []);
  });

  it('tolerates a byte-order mark', () => {
    assert.equal(parseDockerConfig(`\ufeff{"auths":{"r.example":{"auth":"${FOO_BAR}"}}}`).entries.length, 1);
  });

  const malformedDocuments: Array<{ name: string; text: string; message: RegExp }> = [
    { name: 'empty text', text: '', message: /src is not valid JSON/ },
    { name: 'a JSON array', text: '[]', message: /src is not a JSON object/ },
    { name: 'auths that is an array', text: '{"auths": []}', message: /"auths" is not a JSON object/ },
    { name: 'auths that is null', text: '{"auths": null}', message: /"auths" is not a JSON object/ },
    {
      name: 'an entry that is a string',
      text: '{"auths": {"r.example": "foo:bar"}}',
      message: /registry "r\.example": entry is not a JSON object/,
    },
    {
      name: 'a numeric password',
      text: '{"auths": {"r.example": {"username": "u", "password": 1234}}}',
      message: /field "password" is not a string/,
    },
  ];
  for (const t of malformedDocuments) {
    it(`refuses ${t.name}`, () => {
      assert.match(configInvalid(() => parseDockerConfig(t.text, 'src')).message, t.message);
    });
  }

  it(`refuses text over ${MAX_DOCKER_CONFIG_CHARS} characters before parsing it`, () => {
    const big = `{"auths":{},"pad":"${'x'.repeat(MAX_DOCKER_CONFIG_CHARS)}"}`;
    assert.match(configInvalid(() => parseDockerConfig(big, 'big')).message, /limit/);
  });

  describe('never puts a secret into an error', () => {
    const SECRET = 'S3cr3t-Pa55word';
    const leaky: Array<{ name: string; text: string; registry: string }> = [
      {
        name: 'invalid JSON right after the secret',
        text: `{"auths": {"r.example": {"username": "u", "password": "${SECRET}",}}}`,
        registry: '',
      },
      {
        name: 'a wrong-typed field next to the secret',
        text: `{"auths": {"r.example": {"password": "${SECRET}", "auth": 42}}}`,
        registry: 'r.example',
      },
      {
        name: 'auth with no colon that is the secret',
        text: `{"auths": {"r.example": {"auth": "${b64(SECRET)}"}}}`,
        registry: 'r.example',
      },
      {
        name: 'auth that is not base64 and holds the secret',
        text: `{"auths": {"r.example": {"auth": "${SECRET}!"}}}`,
        registry: 'r.example',
      },
      {
        name: 'a later bad entry after a good one',
        text: `{"auths": {"good.example": {"auth": "${b64(`u:${SECRET}`)}"}, "bad.example": {"auth": "x"}}}`,
        registry: 'bad.example',
      },
    ];
    for (const t of leaky) {
      it(`for ${t.name}`, () => {
        const err = configInvalid(() => parseDockerConfig(t.text, '/etc/camel-oci/config.json'));
        const everything = `${err.message}\n${JSON.stringify(err)}\n${String(err.stack)}\n${String((err as { cause?: unknown }).cause)}`;
        assert.ok(!everything.includes(SECRET), everything);
        assert.ok(!everything.includes(b64(SECRET)), everything);
        assert.match(err.message, /\/etc\/camel-oci\/config\.json/);
        assert.equal(err.context['source'], '/etc/camel-oci/config.json');
        if (t.registry !== '') {
          assert.ok(err.message.includes(`"${t.registry}"`), err.message);
          assert.equal(err.context['registry'], t.registry);
        }
      });
    }
  });
});

describe('credentialFor: kubelet keyring vectors', () => {
  const k8s = fixtureJson<{
    urlsMatch: { cases: Array<{ glob: string; target: string; match: boolean; comment?: string }> };
    keyringGlobHits: { cases: Array<{ configKey: string; lookup: string; configJson: string }> };
    keyringGlobMisses: { cases: Array<{ configKey: string; lookup: string; configJson: string }> };
    dockerHubDefaults: {
      cases: Array<{ configKey: string; lookup: string; hit: boolean }>;
      isDefaultRegistryMatch: Array<{ image: string; expect: boolean }>;
    };
    keyringLookupOrdering: {
      config: Record<string, { username: string; password: string }>;
      cases: Array<{ image: string; match: string[]; ok: boolean; comment?: string }>;
    };
    issue3797_schemeAndV1Path: { config: Record<string, unknown>; cases: Array<{ image: string; match: string[] }> };
  }>(`${DIR}/k8s-credentialprovider-vectors.json`);

  for (const v of k8s.urlsMatch.cases) {
    it(`URLsMatch ${v.glob} ${v.match ? 'matches' : 'does not match'} ${v.target}${v.comment !== undefined ? ` (${v.comment})` : ''}`, () => {
      const cfg = parseDockerConfig(JSON.stringify({ auths: { [v.glob]: { auth: FOO_BAR } } }));
      const { domain, repository } = splitTarget(v.target);
      assert.equal(credentialFor([cfg], domain, repository) !== undefined, v.match);
    });
  }

  for (const v of k8s.keyringGlobHits.cases) {
    it(`keyring hit: ${v.configKey} serves ${v.lookup}`, () => {
      const { domain, repository } = splitTarget(v.lookup);
      assert.deepEqual(credentialFor([parseDockerConfig(v.configJson)], domain, repository), basic('foo', 'bar'));
    });
  }

  for (const v of k8s.keyringGlobMisses.cases) {
    it(`keyring miss: ${v.configKey} does not serve ${v.lookup}`, () => {
      const { domain, repository } = splitTarget(v.lookup);
      assert.equal(credentialFor([parseDockerConfig(v.configJson)], domain, repository), undefined);
    });
  }

  for (const v of k8s.dockerHubDefaults.cases) {
    it(`Docker Hub default: ${v.configKey} ${v.hit ? 'serves' : 'does not serve'} ${v.lookup}`, () => {
      const cfg = parseDockerConfig(JSON.stringify({ [v.configKey]: { auth: FOO_BAR } }));
      const { domain, repository } = splitImage(v.lookup);
      assert.equal(credentialFor([cfg], domain, repository) !== undefined, v.hit);
    });
  }

  for (const v of k8s.dockerHubDefaults.isDefaultRegistryMatch) {
    it(`Docker Hub credentials ${v.expect ? 'serve' : 'do not serve'} image "${v.image}"`, () => {
      const cfg = parseDockerConfig(JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: FOO_BAR } } }));
      const { domain, repository } = splitImage(v.image);
      assert.equal(credentialFor([cfg], domain, repository) !== undefined, v.expect);
    });
  }

  for (const v of k8s.keyringLookupOrdering.cases) {
    it(`lookup order for ${v.image}: ${v.ok ? v.match[0] : 'nothing'}${v.comment !== undefined ? ` (${v.comment})` : ''}`, () => {
      const cfg = parseDockerConfig(JSON.stringify(k8s.keyringLookupOrdering.config));
      const { domain, repository } = splitTarget(v.image);
      const got = credentialFor([cfg], domain, repository);
      assert.equal(got?.kind === 'basic' ? got.username : undefined, v.ok ? v.match[0] : undefined);
    });
  }

  for (const v of k8s.issue3797_schemeAndV1Path.cases) {
    it(`https://quay.io/v1/ serves ${v.image}`, () => {
      const cfg = parseDockerConfig(JSON.stringify(k8s.issue3797_schemeAndV1Path.config));
      const { domain, repository } = splitTarget(v.image);
      assert.deepEqual(credentialFor([cfg], domain, repository), basic('rex', 'tiny arms'));
    });
  }
});

describe('credentialFor: our own rules', () => {
  const hubKeys = [
    'docker.io',
    'index.docker.io',
    'registry-1.docker.io',
    'https://index.docker.io/v1/',
    'https://index.docker.io/v2/',
    'https://docker.io',
  ];
  const hubDomains = ['docker.io', 'index.docker.io', 'registry-1.docker.io'];
  for (const key of hubKeys) {
    it(`treats the Docker Hub key ${key} as Docker Hub's for every alias`, () => {
      const cfg = config({ [key]: { user: 'hub', pass: 'p' } });
      for (const domain of hubDomains) assert.deepEqual(credentialFor([cfg], domain, 'library/alpine'), basic('hub', 'p'), domain);
    });
  }

  it('does not give Docker Hub credentials to look-alike hosts or other ports', () => {
    const cfg = config({ 'https://index.docker.io/v1/': { user: 'hub', pass: 'p' }, 'docker.io:443': { user: 'port', pass: 'p' } });
    assert.equal(credentialFor([cfg], 'evil-docker.io', 'library/alpine'), undefined);
    assert.equal(credentialFor([cfg], 'docker.io.evil.example', 'library/alpine'), undefined);
    assert.equal(credentialFor([cfg], 'docker.io:5000', 'library/alpine'), undefined);
    // An explicit :443 is a different key, as in the kubelet (port compared as written).
    assert.deepEqual(credentialFor([cfg], 'docker.io', 'library/alpine'), basic('hub', 'p'));
  });

  const portCases: Array<{ key: string; domain: string; match: boolean }> = [
    { key: 'localhost:5000', domain: 'localhost:5000', match: true },
    { key: 'localhost:5000', domain: 'localhost:5001', match: false },
    { key: 'localhost:5000', domain: 'localhost', match: false },
    { key: 'localhost', domain: 'localhost:5000', match: false },
    { key: 'http://127.0.0.1:5000/v2/', domain: '127.0.0.1:5000', match: true },
    { key: '[::1]:5000', domain: '[::1]:5000', match: true },
    { key: '[::1]:5000', domain: '[::1]:5001', match: false },
  ];
  for (const t of portCases) {
    it(`port must match exactly: ${t.key} ${t.match ? 'serves' : 'does not serve'} ${t.domain}`, () => {
      assert.equal(credentialFor([config({ [t.key]: { user: 'u', pass: 'p' } })], t.domain, 'acme/deps') !== undefined, t.match);
    });
  }

  const wildcardDepth: Array<{ key: string; domain: string; match: boolean }> = [
    { key: '*.example.com', domain: 'a.example.com', match: true },
    { key: '*.example.com', domain: 'a.b.example.com', match: false },
    { key: '*.example.com', domain: 'example.com', match: false },
    { key: '*.*.example.com', domain: 'a.b.example.com', match: true },
    { key: '*.*.example.com', domain: 'a.example.com', match: false },
    { key: 'reg-*.example.com', domain: 'reg-12.example.com', match: true },
    { key: 'reg-*.example.com', domain: 'reg.example.com', match: false },
    { key: '*reg.example.com', domain: 'reg.example.com', match: true },
    { key: 'a*b*c.example.com', domain: 'axxbyyc.example.com', match: true },
    { key: 'a*b*c.example.com', domain: 'axxbyy.example.com', match: false },
    { key: '*', domain: 'localhost', match: true },
    { key: '*', domain: 'r.example', match: false },
  ];
  for (const t of wildcardDepth) {
    it(`one label per '*': ${t.key} ${t.match ? 'serves' : 'does not serve'} ${t.domain}`, () => {
      assert.equal(credentialFor([config({ [t.key]: { user: 'u', pass: 'p' } })], t.domain, 'acme/deps') !== undefined, t.match);
    });
  }

  it('compares hosts case-insensitively', () => {
    const cfg = config({ 'Registry.Example.COM': { user: 'u', pass: 'p' } });
    assert.deepEqual(credentialFor([cfg], 'registry.example.com', 'acme/deps'), basic('u', 'p'));
    assert.deepEqual(credentialFor([cfg], 'REGISTRY.example.com', 'acme/deps'), basic('u', 'p'));
  });

  it('matches a path prefix as a plain string, like the kubelet', () => {
    const cfg = config({ 'r.example/acme': { user: 'acme', pass: 'p' } });
    assert.deepEqual(credentialFor([cfg], 'r.example', 'acme/deps'), basic('acme', 'p'));
    assert.deepEqual(credentialFor([cfg], 'r.example', 'acmecorp/deps'), basic('acme', 'p'));
    assert.equal(credentialFor([cfg], 'r.example', 'other/deps'), undefined);
    // A registry-wide request (no repository) only takes host-level keys.
    assert.equal(credentialFor([cfg], 'r.example', ''), undefined);
    assert.deepEqual(credentialFor([config({ 'r.example': { user: 'u', pass: 'p' } })], 'r.example', ''), basic('u', 'p'));
  });

  const precedence: Array<{
    name: string;
    configs: Array<Record<string, { user: string; pass: string }>>;
    domain: string;
    repo: string;
    winner: string;
  }> = [
    {
      name: 'the earlier config wins an equally specific match',
      configs: [{ 'r.example': { user: 'pod', pass: 'p' } }, { 'https://r.example/v1/': { user: 'webhook', pass: 'p' } }],
      domain: 'r.example',
      repo: 'acme/deps',
      winner: 'pod',
    },
    {
      name: 'a longer path in a later config beats the earlier host-only key',
      configs: [{ 'r.example': { user: 'pod', pass: 'p' } }, { 'r.example/acme': { user: 'webhook', pass: 'p' } }],
      domain: 'r.example',
      repo: 'acme/deps',
      winner: 'webhook',
    },
    {
      name: 'an exact host in a later config beats an earlier glob',
      configs: [{ '*.example.com': { user: 'glob', pass: 'p' } }, { 'r.example.com': { user: 'exact', pass: 'p' } }],
      domain: 'r.example.com',
      repo: 'acme/deps',
      winner: 'exact',
    },
    {
      name: 'a glob with a path beats an exact host without one',
      configs: [{ 'r.example.com': { user: 'exact', pass: 'p' } }, { '*.example.com/acme': { user: 'glob', pass: 'p' } }],
      domain: 'r.example.com',
      repo: 'acme/deps',
      winner: 'glob',
    },
    {
      name: 'the glob with more literal characters wins',
      configs: [{ '*.example.com': { user: 'loose', pass: 'p' } }, { 'r*.example.com': { user: 'tight', pass: 'p' } }],
      domain: 'reg.example.com',
      repo: 'acme/deps',
      winner: 'tight',
    },
    {
      name: 'Docker Hub aliases tie, so the earlier config wins whatever the alias length',
      configs: [{ 'docker.io': { user: 'short', pass: 'p' } }, { 'https://index.docker.io/v1/': { user: 'long', pass: 'p' } }],
      domain: 'docker.io',
      repo: 'library/alpine',
      winner: 'short',
    },
    {
      name: 'within one config, the earlier of two equivalent keys wins',
      configs: [{ 'https://quay.io/v1/': { user: 'first', pass: 'p' }, 'quay.io': { user: 'second', pass: 'p' } }],
      domain: 'quay.io',
      repo: 'acme/deps',
      winner: 'first',
    },
  ];
  for (const t of precedence) {
    it(t.name, () => {
      const configs = t.configs.map((c, k) => config(c, `config ${k}`));
      const got = credentialFor(configs, t.domain, t.repo);
      assert.equal(got?.kind === 'basic' ? got.username : undefined, t.winner);
    });
  }

  it('says which entry of which config it chose', () => {
    const configs = [
      config({ 'other.example': { user: 'x', pass: 'p' } }, 'secret ns/a'),
      config({ 'https://r.example/v1/': { user: 'u', pass: 'p' } }, 'secret ns/b'),
    ];
    assert.deepEqual(matchCredential(configs, 'r.example', 'acme/deps'), {
      credential: basic('u', 'p'),
      source: 'secret ns/b',
      key: 'https://r.example/v1/',
    });
    assert.equal(matchCredential(configs, 'nowhere.example', 'acme/deps'), undefined);
    assert.equal(matchCredential([], 'r.example', 'acme/deps'), undefined);
  });

  it('finds nothing for a malformed domain rather than throwing', () => {
    const cfg = config({ 'r.example': { user: 'u', pass: 'p' } });
    for (const domain of ['', 'r.example:abc', 'u@r.example', 'r.example:1:2']) {
      assert.equal(credentialFor([cfg], domain, 'acme/deps'), undefined, domain);
    }
  });
});
