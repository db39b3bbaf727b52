/** Redirects: what a followed request keeps and loses (src/registry/redirect.ts). */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { withRedirects } from '../../src/registry/redirect.js';
import type { TransportRequest, TransportResponse } from '../../src/registry/transport.js';

function answer(status: number, headers: Record<string, string>, url: URL): TransportResponse {
  const body = Object.assign(Readable.from([]), { dump: async () => undefined });
  return { status, headers, body, url };
}

test("a redirect drops the token request's address exemption, and credentials when the origin changes", async () => {
  const sent: TransportRequest[] = [];
  const transport = withRedirects(
    async (req) => {
      sent.push(req);
      return sent.length === 1 ? answer(307, { location: 'https://storage.example.com/blob' }, req.url) : answer(200, {}, req.url);
    },
    () => undefined,
  );
  const res = await transport({
    method: 'GET',
    url: new URL('https://127.0.0.1:5101/token'),
    headers: { authorization: 'Basic YTpi' },
    signal: new AbortController().signal,
    deadline: Date.now() + 10_000,
    addressExempt: true,
  });
  assert.equal(res.status, 200);
  assert.equal(sent.length, 2);
  assert.equal(sent[0]!.addressExempt, true);
  assert.equal(sent[1]!.addressExempt, undefined, 'the exemption was the realm’s, not its redirect target’s');
  assert.equal(sent[1]!.headers.authorization, undefined);
});
