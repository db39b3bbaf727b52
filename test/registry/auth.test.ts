/**
 * The auth layer (src/registry/auth.ts) against the real registry in Basic and token modes, seen
 * from below: a recording base transport shows every request and the credentials it carried.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Credential } from '../../src/oci/docker-config.js';
import { Authenticator } from '../../src/registry/auth.js';
import type { AuthRequest } from '../../src/registry/auth.js';
import { withRedirects } from '../../src/registry/redirect.js';
import { createRegistryContext } from '../../src/registry/setup.js';
import type { RegistryContext } from '../../src/registry/setup.js';
import type { Transport, TransportResponse } from '../../src/registry/transport.js';
import { baseTransport } from '../../src/registry/undici-transport.js';
import { pushStandardArtifact } from '../helpers/artifacts.js';
import type { PushedArtifact } from '../helpers/artifacts.js';
import { DEFAULT_USERS, startRegistry } from '../helpers/registry.js';
import type { StartedRegistry } from '../helpers/registry.js';

const [USER, PASSWORD] = Object.entries(DEFAULT_USERS)[0]!;
const GOOD: Credential = { kind: 'basic', username: USER, password: PASSWORD };
const WRONG: Credential = { kind: 'basic', username: USER, password: `${PASSWORD}-not` };

/** One request as it reached the network. */
interface Sent {
  readonly origin: string;
  readonly path: string;
  readonly authorization: string | undefined;
}

describe('Authenticator against the real registry', () => {
  /** Basic auth; also the foreign origin the token registry redirects blobs to. */
  let basic: StartedRegistry;
  /** Token auth, redirecting blob GETs to the Basic registry's origin. */
  let token: StartedRegistry;
  let basicArtifact: PushedArtifact;
  let tokenArtifact: PushedArtifact;
  let context: RegistryContext;
  let sent: Sent[];
  let tokenFetches: number;

  before(async () => {
    basic = await startRegistry({ mode: 'basic' });
    token = await startRegistry({
      mode: 'token',
      anonymousPull: false,
      // distribution's redirect storage middleware: blob GETs answer 307 to this base URL.
      extraConfig: { middleware: { storage: [{ name: 'redirect', options: { baseurl: `https://${basic.host}/v2/` } }] } },
    });
    [basicArtifact, tokenArtifact] = await Promise.all([pushStandardArtifact(basic), pushStandardArtifact(token)]);
    context = await createRegistryContext({
      registryConfigs: [],
      insecureRegistries: [],
      allowRegistries: [basic.host, token.host, new URL(token.tokenIssuer!.url).host],
      caFiles: [basic.caFile!, token.caFile!],
    });
  });
  after(async () => {
    await context?.agent.close();
    await token?.stop();
    await basic?.stop();
  });
  beforeEach(() => {
    sent = [];
    tokenFetches = 0;
    token.tokenIssuer!.resetRequests();
    token.tokenIssuer!.setExpiresIn(300);
  });

  /** A fresh auth layer (empty caches) over redirects over the recording base transport, as the client composes it. */
  function authLayer(): (req: AuthRequest) => Promise<TransportResponse> {
    const base = baseTransport(context.agent);
    const recording: Transport = (req) => {
      sent.push({ origin: req.url.origin, path: req.url.pathname, authorization: req.headers.authorization });
      return base(req);
    };
    const inner = withRedirects(recording, (url) => context.policy.checkUrl(url));
    const auth = new Authenticator(inner, {
      checkRealm: (realm, registry) => context.policy.checkRealm(realm, registry),
      onTokenFetch: () => tokenFetches++,
    });
    return auth.transport(inner);
  }

  async function get(
    send: (req: AuthRequest) => Promise<TransportResponse>,
    registry: StartedRegistry,
    path: string,
    credential?: Credential,
  ): Promise<number> {
    const res = await send({
      method: 'GET',
      url: new URL(`https://${registry.host}${path}`),
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      signal: AbortSignal.timeout(15_000),
      deadline: Date.now() + 15_000,
      scope: 'repository:acme/deps:pull',
      ...(credential ? { credential } : {}),
    });
    await res.body.dump({ limit: 1024 * 1024 });
    return res.status;
  }

  const manifestPath = (a: PushedArtifact) => `/v2/${a.repository}/manifests/${a.tag}`;
  const toOrigin = (r: StartedRegistry) => `https://${r.host}`;

  describe('Basic', () => {
    it('sends the credential up front, in one request, to its registry only', async () => {
      const send = authLayer();
      assert.equal(await get(send, basic, manifestPath(basicArtifact), GOOD), 200);
      assert.deepEqual(sent, [
        {
          origin: toOrigin(basic),
          path: manifestPath(basicArtifact),
          authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
        },
      ]);
    });

    it('answers the 401 as it is without a credential, and does not retry a refused one', async () => {
      const send = authLayer();
      assert.equal(await get(send, basic, manifestPath(basicArtifact)), 401);
      assert.equal(sent.length, 1, 'no credential: nothing to retry with');
      sent = [];
      assert.equal(await get(send, basic, manifestPath(basicArtifact), WRONG), 401);
      assert.equal(sent.length, 1, 'the credential sent up front was refused: no second try');
    });

    it('learns the challenge: after a 401, a credential goes with the first request', async () => {
      const send = authLayer();
      assert.equal(await get(send, basic, manifestPath(basicArtifact)), 401);
      sent = [];
      assert.equal(await get(send, basic, manifestPath(basicArtifact), GOOD), 200);
      assert.equal(sent.length, 1);
      assert.match(sent[0]!.authorization ?? '', /^Basic /);
    });
  });

  describe('Bearer', () => {
    it('fetches one token on the challenge, retries once, and reuses the cached token', async () => {
      const send = authLayer();
      assert.equal(await get(send, token, manifestPath(tokenArtifact), GOOD), 200);
      const toRegistry = sent.filter((s) => s.origin === toOrigin(token));
      assert.equal(toRegistry.length, 2, 'the first answer is the challenge, the retry carries the token');
      assert.match(toRegistry[1]!.authorization ?? '', /^Bearer /);
      assert.equal(tokenFetches, 1);
      assert.equal(token.tokenIssuer!.requestCount(), 1);

      sent = [];
      assert.equal(await get(send, token, manifestPath(tokenArtifact), GOOD), 200);
      assert.equal(sent.length, 1, 'the cached token goes with the first request');
      assert.match(sent[0]!.authorization ?? '', /^Bearer /);
      assert.equal(token.tokenIssuer!.requestCount(), 1, 'no second token request');
    });

    it('keys tokens by credential: an anonymous request never gets the token fetched with a password', async () => {
      const send = authLayer();
      assert.equal(await get(send, token, manifestPath(tokenArtifact), GOOD), 200);
      const withPassword = sent.find((s) => s.authorization?.startsWith('Bearer '))!.authorization;
      sent = [];
      assert.equal(await get(send, token, manifestPath(tokenArtifact)), 401, 'anonymous pull is not granted');
      assert.ok(!sent.some((s) => s.authorization === withPassword), 'the password-bought token was not reused');
      // Its own anonymous token (granting nothing) is refused, dropped and fetched once more.
      assert.equal(token.tokenIssuer!.requestCount(), 3, 'tokens of its own were fetched');
      assert.ok(
        token
          .tokenIssuer!.requests()
          .slice(1)
          .every((r) => !r.sentCredentials),
        'anonymous token requests carry no password',
      );
    });

    it('retries a 401 once: a token the registry refuses is dropped, one new token is fetched, and the second 401 is the answer', async () => {
      const send = authLayer();
      assert.equal(await get(send, token, manifestPath(tokenArtifact), GOOD), 200);
      // From now on tokens are valid for the client (expires_in) but already expired for the registry.
      token.tokenIssuer!.setExpiresIn(300, -600);
      sent = [];
      token.tokenIssuer!.resetRequests();
      // The cached token is still good for the registry: one request.
      assert.equal(await get(send, token, manifestPath(tokenArtifact), GOOD), 200);
      assert.equal(sent.length, 1);
      // A fresh layer has no token: it fetches an expired one, is refused, and gives up after one retry.
      const fresh = authLayer();
      sent = [];
      assert.equal(await get(fresh, token, manifestPath(tokenArtifact), GOOD), 401);
      const toRegistry = sent.filter((s) => s.origin === toOrigin(token));
      assert.equal(toRegistry.length, 2, 'the challenge and one retry, no loop');
      assert.equal(token.tokenIssuer!.requestCount(), 1);
      // Its next request sends the refused cached token, drops it on the 401, fetches once more, and stops.
      sent = [];
      token.tokenIssuer!.resetRequests();
      assert.equal(await get(fresh, token, manifestPath(tokenArtifact), GOOD), 401);
      assert.equal(sent.filter((s) => s.origin === toOrigin(token)).length, 2, 'the cached token and one retry');
      assert.equal(token.tokenIssuer!.requestCount(), 1, 'the refused token was replaced once');
    });

    it('sends the password only to the token realm, and the token only to the registry', async () => {
      const send = authLayer();
      assert.equal(await get(send, token, manifestPath(tokenArtifact), GOOD), 200);
      const issuerRecords = token.tokenIssuer!.requests();
      assert.equal(issuerRecords.length, 1);
      assert.equal(issuerRecords[0]!.user, USER, 'the realm got the Basic credential');
      for (const s of sent.filter((x) => x.origin !== toOrigin(token))) {
        assert.ok(!s.authorization?.startsWith('Bearer '), `no token to ${s.origin}`);
      }
    });
  });

  describe('across origins', () => {
    it('does not send credentials to a cross-origin redirect, nor retry there with them', async () => {
      const send = authLayer();
      const layer = tokenArtifact.manifest.layers[0]!;
      const status = await get(send, token, `/v2/${tokenArtifact.repository}/blobs/${layer.digest}`, GOOD);
      const toRegistry = sent.filter((s) => s.origin === toOrigin(token));
      const foreign = sent.filter((s) => s.origin === toOrigin(basic));
      assert.ok(
        toRegistry.some((s) => s.authorization?.startsWith('Bearer ')),
        'the registry got its token',
      );
      assert.equal(foreign.length, 1, `the redirect was followed once, never retried with credentials: ${JSON.stringify(sent)}`);
      assert.equal(foreign[0]!.authorization, undefined, 'no Authorization crossed the origin');
      // The redirect names a path the foreign registry does not serve: its answer is the answer.
      assert.equal(status, 404, 'the foreign origin answered, and that is the answer');
    });
  });
});
