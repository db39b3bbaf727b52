/** Transport layer: follows redirects (blob storage), dropping credentials when the origin changes. */
import { OciError } from '../base/errors.js';
import { header } from './transport.js';
import type { Transport } from './transport.js';

/** Redirects followed at most: distribution redirects blobs once, to object storage. */
export const MAX_REDIRECTS = 5;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Decides whether a redirect target's scheme and host may be contacted; throws POLICY_DENIED if not. */
export type UrlCheck = (url: URL) => void;

/**
 * Follows redirects for GET/HEAD. `Authorization` is never sent to another origin (a presigned
 * object-storage URL carries its own credentials; our token must not leak to it). Each target is
 * checked by `checkUrl` (scheme policy) here and by the connector (address policy) when connecting.
 */
export function withRedirects(next: Transport, checkUrl: UrlCheck): Transport {
  return async (first) => {
    let req = first;
    for (let hop = 0; ; hop++) {
      const res = await next(req);
      if (!REDIRECT_STATUSES.has(res.status) || (req.method !== 'GET' && req.method !== 'HEAD')) return res;
      const location = header(res, 'location');
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      if (!location) {
        throw new OciError('REGISTRY_ERROR', `${req.url.host} answered HTTP ${res.status} without a Location header`);
      }
      if (hop + 1 > MAX_REDIRECTS) {
        throw new OciError('REGISTRY_ERROR', `more than ${MAX_REDIRECTS} redirects starting at ${first.url.host}`);
      }
      let target: URL;
      try {
        target = new URL(location, req.url);
      } catch {
        throw new OciError('REGISTRY_ERROR', `${req.url.host} redirected to an invalid URL`);
      }
      checkUrl(target);
      const headers: Record<string, string> = { ...req.headers };
      if (target.origin !== req.url.origin) delete headers['authorization'];
      // An address exemption was the realm's (auth.ts), not its redirect target's.
      const { addressExempt: _exempt, ...rest } = req;
      req = { ...rest, url: target, headers };
    }
  };
}
