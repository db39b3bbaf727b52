/**
 * The ordinary routes of the webhook, on express 5: `GET /healthz`, `GET /readyz`, `GET /metrics`,
 * a 405 for anything but POST on an admission path, and a JSON 404 for the rest. Admission itself
 * is served by the lean edge (edge.ts), never by express.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
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

/** Creates the express application of the ordinary routes. */
export function createRoutes(options: RoutesOptions): express.Express {
  const { admissionPaths, metrics, logger, ready } = options;
  const app = express();
  app.disable('x-powered-by');
  // ETags would hash every answer for nothing: nobody revalidates.
  app.set('etag', false);
  // `/mutate/` and `/MUTATE` are not `/mutate`: a near-miss path is a 404, not a 405 that says "use POST".
  app.set('case sensitive routing', true);
  app.set('strict routing', true);

  for (const path of admissionPaths) {
    app.all(path, (_req: Request, res: Response) => {
      res.set('Allow', 'POST');
      sendError(res, 405, 'MethodNotAllowed', 'use POST');
    });
  }
  app.get('/healthz', (_req: Request, res: Response) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req: Request, res: Response) => {
    let ok: boolean;
    try {
      ok = ready();
    } catch {
      ok = false;
    }
    res
      .status(ok ? 200 : 503)
      .type('text/plain')
      .send(ok ? 'ok' : 'not ready');
  });
  app.get('/metrics', async (_req: Request, res: Response) => {
    try {
      const text = await metrics.text();
      res.type(metrics.contentType).send(text);
    } catch (err) {
      logger.error({ err }, 'cannot render metrics');
      res.status(500).type('text/plain').send('cannot render metrics');
    }
  });
  app.use((_req: Request, res: Response) => {
    sendError(res, 404, 'NotFound', 'no such route');
  });
  // Last resort, in express's 4-argument form: anything a route threw (express parses no bodies here).
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: unknown } | null)?.status;
    const code = typeof status === 'number' && status >= 400 && status < 500 ? status : 500;
    if (code >= 500) logger.error({ err }, 'request failed');
    else logger.warn({ status: code }, 'request refused');
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    sendError(res, code, code === 500 ? 'InternalError' : 'BadRequest', code === 500 ? 'internal error' : 'request refused');
  });
  return app;
}
