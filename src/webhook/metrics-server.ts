/**
 * The separate plain-HTTP metrics listener of `serve` (`--metrics-port`): `GET /metrics` and
 * nothing else, so Prometheus scrapes without the webhook's CA and a scrape never shares the
 * admission port's connections or body budget. It reads no request bodies and exposes no
 * admission path: nothing here accepts input beyond a request line and headers.
 */
import http from 'node:http';
import type { Logger } from '../base/logger.js';
import { CamelOciError } from '../base/errors.js';
import type { WebhookMetrics } from './metrics.js';

/** Time allowed for a scrape request's headers and for the whole request: scrapes are small. */
const SCRAPE_REQUEST_TIMEOUT_MS = 10_000;
/** Idle keep-alive time: Prometheus reuses its connection between scrapes of one target. */
const SCRAPE_KEEP_ALIVE_MS = 65_000;

/** A started metrics listener. */
export interface MetricsServer {
  readonly server: http.Server;
  /** The bound port. */
  readonly port: number;
  /** Stops listening and drops idle connections. */
  close(): Promise<void>;
}

/** Creates the request listener of the metrics port: `GET`/`HEAD /metrics`, else 404 or 405. */
export function metricsListener(metrics: WebhookMetrics, logger: Logger): http.RequestListener {
  return (req, res) => {
    const q = req.url?.indexOf('?') ?? -1;
    const path = q < 0 ? req.url : req.url!.slice(0, q);
    // Bodies are never read: throw away whatever a client sends.
    req.resume();
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: this port serves GET /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('use GET\n');
      return;
    }
    metrics.text().then(
      (text) => {
        const body = Buffer.from(text);
        res.writeHead(200, { 'content-type': metrics.contentType, 'content-length': body.length });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        logger.error({ err }, 'cannot render metrics');
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('cannot render metrics\n');
      },
    );
  };
}

/**
 * Starts the metrics listener on `port` at `address` (undefined: all addresses, as `serve` does).
 * Throws CONFIG_INVALID naming the flag when the port cannot be bound.
 */
export async function startMetricsServer(
  metrics: WebhookMetrics,
  logger: Logger,
  port: number,
  address: string | undefined,
): Promise<MetricsServer> {
  const server = http.createServer(
    { requestTimeout: SCRAPE_REQUEST_TIMEOUT_MS, headersTimeout: SCRAPE_REQUEST_TIMEOUT_MS },
    metricsListener(metrics, logger),
  );
  server.keepAliveTimeout = SCRAPE_KEEP_ALIVE_MS;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new CamelOciError('CONFIG_INVALID', `--metrics-port: cannot listen on ${address ?? '*'}:${port}: ${err.code ?? err.message}`)),
    );
    server.listen(port, address, () => resolve());
  });
  const bound = server.address();
  return {
    server,
    port: typeof bound === 'object' && bound ? bound.port : port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
