/**
 * The webhook's request listener: admission paths go to the lean edge (edge.ts), everything else to
 * the express routes (routes.ts). TLS is not here: `tls-server.ts` serves this listener.
 */
import type { RequestListener } from 'node:http';
import { AnswerMemo } from '../admit/answer-memo.js';
import type { PodAdmissionDeps } from '../admit/pod.js';
import type { Logger } from '../base/logger.js';
import type { BodyBudget } from './body-budget.js';
import { createAdmissionEdge, type AdmissionHandler } from './edge.js';
import { handleAdmission, handleIntegrationAdmission } from './handler.js';
import type { WebhookMetrics } from './metrics.js';
import { createRoutes } from './routes.js';

export { MAX_BODY_BYTES } from './edge.js';

/** What `createApp` needs; all built once by `serve`. */
export interface AppOptions {
  readonly handlerDeps: PodAdmissionDeps;
  readonly metrics: WebhookMetrics;
  readonly logger: Logger;
  /** True when the webhook can serve (certificate loaded, config valid); drives `GET /readyz`. */
  readonly ready: () => boolean;
  /** Bytes of request bodies held at once; the edge's default when absent. */
  readonly budget?: BodyBudget;
}

/** Creates the webhook's request listener: `POST /mutate`, `POST /mutate-integrations`, `GET /healthz`, `GET /readyz`, `GET /metrics`. */
export function createApp(options: AppOptions): RequestListener {
  const { metrics, logger, ready } = options;
  // Identical pods (the replicas of an integration) get the answer built for the first of them.
  const handlerDeps: PodAdmissionDeps =
    options.handlerDeps.answerMemo === undefined ? { ...options.handlerDeps, answerMemo: new AnswerMemo() } : options.handlerDeps;
  const routes: Record<string, AdmissionHandler> = {
    '/mutate': (request, ctx) => handleAdmission(request, ctx, handlerDeps),
    '/mutate-integrations': (request, ctx) => handleIntegrationAdmission(request, ctx, handlerDeps),
  };
  const edge = createAdmissionEdge({
    routes,
    metrics,
    logger,
    onError: handlerDeps.onError,
    ...(options.budget ? { budget: options.budget } : {}),
  });
  const app = createRoutes({ admissionPaths: Object.keys(routes), metrics, logger, ready });
  return (req, res) => {
    const handler = edge.match(req);
    if (handler !== undefined) edge.serve(req, res, handler);
    else app(req, res);
  };
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
