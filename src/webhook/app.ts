/**
 * The HTTP edge of the webhook: content type, body limit and AdmissionReview checks, then the
 * handler, then `complete()`. Once a request uid is readable the answer is always an
 * AdmissionReview (an exception becomes `errored(500)` with that uid); before that, a small JSON
 * error body with a reason. No framework error page, no `x-powered-by`, no ETag hashing. TLS is
 * not here: `tls-server.ts` serves this listener.
 *
 * `POST /mutate` is the hot path and is served by a lean Node handler; express 5 serves the probes,
 * metrics and every other route. Measured on the admission benchmark, express's per-request
 * machinery cost more than the whole admission (about four times a bare server's CPU for an empty
 * route), so the one route on every pod's creation path does not go through it.
 */
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import express, { type NextFunction, type Request, type Response } from 'express';
import {
  allowed,
  complete,
  denied,
  errored,
  outcomeOf,
  parseAdmissionReview,
  type AdmissionReviewResponse,
} from './admission.js';
import { formatSeconds } from '../base/abort.js';
import type { Logger } from '../base/logger.js';
import { parseTimeoutParam, startDeadline } from './deadline.js';
import type { AdmissionAnswer, HandlerDeps } from '../admit/pod.js';
// Integration/Pipe route (issue 9): each admission route is a handler plus its metrics kind label.
import { POD_ROUTE, routeFor, INTEGRATION_ROUTE, type AdmissionRoute } from './routes.js';
import { logAdmission, requestLogFields } from './logger.js';
import type { WebhookMetrics } from './metrics.js';

/** Largest request body accepted (DESIGN.md: bodies up to 7 MiB; etcd objects are at most ~1.5 MiB, so this is generous). */
export const MAX_BODY_BYTES = 7 * 1024 * 1024;

/** What `createApp` needs; all built once by `serve`. */
export interface AppOptions {
  readonly handlerDeps: HandlerDeps;
  readonly metrics: WebhookMetrics;
  readonly logger: Logger;
  /** True when the webhook can serve (certificate loaded, config valid); drives `GET /readyz`. */
  readonly ready: () => boolean;
}

/** Body of every non-AdmissionReview error answer. */
export interface ErrorBody {
  readonly error: string;
  readonly reason: string;
}

function sendError(res: Response, status: number, error: string, reason: string): void {
  res.status(status).json({ error, reason } satisfies ErrorBody);
}

/** Maps a body-parser error (`err.type`, `err.status`) to our status, error name and reason. */
function bodyError(err: unknown): { status: number; error: string; reason: string } {
  const e = (typeof err === 'object' && err !== null ? err : {}) as { type?: unknown; status?: unknown };
  switch (e.type) {
    case 'entity.too.large':
      return { status: 413, error: 'PayloadTooLarge', reason: `request body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB` };
    case 'entity.parse.failed':
      return { status: 400, error: 'BadRequest', reason: 'request body is not valid JSON' };
    case 'encoding.unsupported':
      return { status: 415, error: 'UnsupportedMediaType', reason: 'unsupported Content-Encoding' };
    case 'charset.unsupported':
      return { status: 415, error: 'UnsupportedMediaType', reason: 'unsupported charset (use utf-8)' };
    case 'request.aborted':
    case 'request.size.invalid':
      return { status: 400, error: 'BadRequest', reason: 'request body was cut short' };
    default: {
      const status = typeof e.status === 'number' && e.status >= 400 && e.status < 500 ? e.status : 500;
      return status === 500
        ? { status, error: 'InternalError', reason: 'internal error' }
        : { status, error: 'BadRequest', reason: 'request refused' };
    }
  }
}

/** Creates the webhook's request listener: `POST /mutate`, `POST /mutate-integrations`, `GET /healthz`, `GET /readyz`, `GET /metrics`. */
export function createApp(options: AppOptions): RequestListener {
  const { handlerDeps, metrics, logger, ready } = options;
  const app = express();
  app.disable('x-powered-by');
  // ETags would hash every admission answer for nothing: the apiserver never revalidates.
  app.set('etag', false);

  /** The answer when the handler ignored its signal too long: the edge speaks before the apiserver gives up. */
  const lateAnswer = (budgetMs: number): AdmissionAnswer => {
    const reason = `camel-oci: admission did not finish within ${formatSeconds(budgetMs)} (registry slow or unreachable)`;
    return handlerDeps.onError === 'allow'
      ? { result: allowed(), warnings: [`camel-oci: dependencies not injected: admission timed out`], auditAnnotations: {}, references: 0, reason: 'TIMEOUT' }
      : { result: denied(reason, 504), warnings: [], auditAnnotations: {}, references: 0, reason: 'TIMEOUT' };
  };

  /** Answers one parsed request body; `timeout` is the apiserver's `?timeout=` value. */
  async function mutate(body: unknown, timeout: string | undefined, startedAt: number, res: ServerResponse, route: AdmissionRoute = POD_ROUTE): Promise<void> {
    const parsed = parseAdmissionReview(body);
    if (!parsed.ok) {
      metrics.invalidRequest(400);
      logger.warn({ status: 400, code: parsed.code, reason: parsed.reason }, 'not an AdmissionReview');
      sendRawError(res, 400, 'BadRequest', parsed.reason);
      return;
    }
    const request = parsed.request;
    const deadline = startDeadline(parseTimeoutParam(timeout), startedAt);
    let ans: AdmissionAnswer;
    let review: AdmissionReviewResponse;
    try {
      ans = await Promise.race([
        route.handle(request, { signal: deadline.signal, logger }, handlerDeps),
        deadline.lastChance().then(() => lateAnswer(deadline.budgetMs)),
      ]);
      review = complete(request.uid, ans.result, { warnings: ans.warnings, auditAnnotations: ans.auditAnnotations });
    } catch (err) {
      logger.error({ uid: request.uid, err }, 'admission failed with an exception');
      ans = { result: errored(500, err), warnings: [], auditAnnotations: {}, references: 0, reason: 'INTERNAL' };
      review = complete(request.uid, ans.result);
    } finally {
      deadline.dispose();
    }
    sendJson(res, 200, review);
    const durationMs = performance.now() - startedAt;
    const outcome = outcomeOf(ans.result);
    metrics.admission(outcome, durationMs / 1000, route.kind(request));
    logAdmission(logger, {
      uid: request.uid,
      ...requestLogFields(request),
      outcome,
      durationMs,
      references: ans.references,
      ...(ans.reason !== undefined ? { reason: ans.reason } : {}),
      ...(review.response.warnings !== undefined ? { warnings: review.response.warnings.length } : {}),
    });
  }

  /** The lean edge of `POST /mutate`: media type, encoding, size, JSON; then `mutate`. */
  function mutateEdge(req: IncomingMessage, res: ServerResponse, route: AdmissionRoute = POD_ROUTE): void {
    const startedAt = performance.now();
    const refuse = (status: number, error: string, reason: string, close: boolean): void => {
      metrics.invalidRequest(status);
      logger.warn({ status, reason }, 'request refused');
      // The rest of an oversized or broken body is not worth reading: close after answering.
      if (close) res.setHeader('connection', 'close');
      sendRawError(res, status, error, reason);
      if (close) res.once('finish', () => req.destroy());
      else req.resume();
    };
    const media = mediaTypeOf(req.headers['content-type']);
    if (media.type !== 'application/json') {
      refuse(415, 'UnsupportedMediaType', 'Content-Type must be application/json', false);
      return;
    }
    if (media.charset !== undefined && media.charset !== 'utf-8' && media.charset !== 'utf8') {
      refuse(415, 'UnsupportedMediaType', 'unsupported charset (use utf-8)', false);
      return;
    }
    const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding !== 'identity') {
      refuse(415, 'UnsupportedMediaType', 'unsupported Content-Encoding', false);
      return;
    }
    const tooLarge = `request body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
      refuse(413, 'PayloadTooLarge', tooLarge, true);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const onData = (chunk: Buffer): void => {
      if (done) return;
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        done = true;
        req.off('data', onData);
        refuse(413, 'PayloadTooLarge', tooLarge, true);
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.on('error', () => {
      done = true;
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
      } catch {
        refuse(400, 'BadRequest', 'request body is not valid JSON', true);
        return;
      }
      mutate(body, timeoutParam(req.url), startedAt, res, route).catch((err: unknown) => {
        // mutate answers every failure itself; this is the last resort for a bug in the edge.
        logger.error({ err }, 'request failed');
        if (!res.headersSent) sendRawError(res, 500, 'InternalError', 'internal error');
        else res.destroy();
      });
    });
  }

  app.all(['/mutate', INTEGRATION_ROUTE.path], (_req: Request, res: Response) => {
    res.set('Allow', 'POST');
    sendError(res, 405, 'MethodNotAllowed', 'use POST');
  });

  app.get('/healthz', (_req: Request, res: Response) => {
    res.type('text/plain').send('ok');
  });
  app.get('/readyz', (_req: Request, res: Response) => {
    let ok = false;
    try {
      ok = ready();
    } catch {
      ok = false;
    }
    res.status(ok ? 200 : 503).type('text/plain').send(ok ? 'ok' : 'not ready');
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

  // Last resort, in express's 4-argument form: body-parser errors and anything a route threw.
  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const { status, error, reason } = bodyError(err);
    if (routeFor(req.path) !== undefined) metrics.invalidRequest(status);
    if (status >= 500) logger.error({ err }, 'request failed');
    else logger.warn({ status, reason }, 'request refused');
    if (res.headersSent) {
      req.socket.destroy();
      return;
    }
    // The rest of an oversized or broken body is not worth reading: close the connection after answering.
    if (status === 413 || status === 400) res.set('Connection', 'close');
    sendError(res, status, error, reason);
  });

  return (req, res) => {
    const route = req.method === 'POST' ? routeFor(req.url) : undefined;
    if (route !== undefined) mutateEdge(req, res, route);
    else app(req, res);
  };
}

/** The media type (lower-cased, without parameters) and charset of a Content-Type header. */
function mediaTypeOf(header: string | undefined): { type: string; charset?: string } {
  if (header === undefined) return { type: '' };
  const [type = '', ...params] = header.split(';');
  const charset = params
    .map((p) => /^\s*charset\s*=\s*"?([^";\s]+)"?\s*$/i.exec(p)?.[1]?.toLowerCase())
    .find((c) => c !== undefined);
  return { type: type.trim().toLowerCase(), ...(charset !== undefined ? { charset } : {}) };
}

/** The raw `timeout` query parameter of a request URL, if any. */
function timeoutParam(url: string | undefined): string | undefined {
  const q = url?.indexOf('?') ?? -1;
  if (q < 0) return undefined;
  return new URLSearchParams(url!.slice(q + 1)).get('timeout') ?? undefined;
}

/** Writes a JSON answer as one buffer with its length (one write on the TLS socket). */
function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  res.end(body);
}

function sendRawError(res: ServerResponse, status: number, error: string, reason: string): void {
  sendJson(res, status, { error, reason } satisfies ErrorBody);
}

/**
 * A stray promise rejection is logged and the webhook serves on (every pod in labelled namespaces
 * depends on it). An uncaught exception leaves the process in an unknown state: it is logged and the
 * process exits, so the Deployment's other replica serves while this one restarts (`exit` is
 * injectable for tests). Returns a function that removes the guards.
 */
export function installProcessGuards(logger: Logger, exit: (code: number) => void = (code) => process.exit(code)): () => void {
  const onRejection = (reason: unknown): void => {
    logger.error({ err: reason }, 'unhandled promise rejection');
  };
  const onException = (err: unknown): void => {
    logger.fatal({ err }, 'uncaught exception: exiting so the pod restarts in a known state');
    exit(70);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return () => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  };
}
