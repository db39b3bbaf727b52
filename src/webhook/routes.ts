/**
 * The ordinary routes of the webhook: `GET /healthz`, `GET /readyz`, `GET /metrics` (HEAD too), a
 * 405 for anything but POST on an admission path, and a JSON 404 for the rest. Admission itself is
 * served by the lean edge (edge.ts). Paths match exactly (case-sensitive, no trailing slash: a
 * near-miss path is a 404, not a 405 that says "use POST"); the query string is ignored.
 *
 * A plain request listener, not express: five fixed routes do not need a framework, and loading
 * express was a quarter of the webhook's start-up time and a few MiB of its memory.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import type { Logger } from '../base/logger.js';
import { sendError } from './edge.js';
import type { WebhookMetrics } from './metrics.js';

/** What the routes need. */
export interface RoutesOptions {
  /** The admission paths (`/mutate`, ...): other methods there get 405. */
  readonly admissionPaths: readonly string[];
  readonly metrics: WebhookMetrics;
  readonly logger: Logger;
  /** True when the webhook can serve; drives `GET /readyz`. */
  readonly ready: () => boolean;
}

/** Sends a small text answer (no body for HEAD). */
function sendText(req: IncomingMessage, res: ServerResponse, status: number, type: string, text: string): void {
  const body = Buffer.from(text);
  res.writeHead(status, { 'content-type': type, 'content-length': body.length });
  res.end(req.method === 'HEAD' ? undefined : body);
}

const TEXT = 'text/plain; charset=utf-8';

/** Creates the request listener of the ordinary routes. */
export function createRoutes(options: RoutesOptions): RequestListener {
  const { metrics, logger, ready } = options;
  const admissionPaths = new Set(options.admissionPaths);
  return (req, res) => {
    // No route here reads a body: throw away whatever a client sends, so the connection stays usable.
    req.resume();
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const get = req.method === 'GET' || req.method === 'HEAD';
    try {
      if (admissionPaths.has(path)) {
        res.setHeader('allow', 'POST');
        sendError(res, 405, 'MethodNotAllowed', 'use POST');
      } else if (get && path === '/healthz') {
        sendText(req, res, 200, TEXT, 'ok');
      } else if (get && path === '/readyz') {
        let ok: boolean;
        try {
          ok = ready();
        } catch {
          ok = false;
        }
        sendText(req, res, ok ? 200 : 503, TEXT, ok ? 'ok' : 'not ready');
      } else if (get && path === '/metrics') {
        metrics.text().then(
          (text) => sendText(req, res, 200, metrics.contentType, text),
          (err: unknown) => {
            logger.error({ err }, 'cannot render metrics');
            sendText(req, res, 500, TEXT, 'cannot render metrics');
          },
        );
      } else {
        sendError(res, 404, 'NotFound', 'no such route');
      }
    } catch (err) {
      // Last resort: a route that threw.
      logger.error({ err }, 'request failed');
      if (res.headersSent) req.socket.destroy();
      else sendError(res, 500, 'InternalError', 'internal error');
    }
  };
}
