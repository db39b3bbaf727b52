/**
 * The admission routes the HTTP edge serves: each is a handler plus the `kind` label its answers
 * are counted under. `POST /mutate` admits Pods; `POST /mutate-integrations` admits Camel K
 * Integrations and Pipes.
 */
import { handleAdmission, type AdmissionAnswer, type HandlerContext, type HandlerDeps } from '../admit/pod.js';
import { admitIntegration, integrationKindLabel } from '../admit/integration.js';
import type { AdmissionRequest } from './admission.js';

/** One admission route: its path, its handler and the `kind` metrics label of a request. */
export interface AdmissionRoute {
  readonly path: string;
  readonly handle: (request: AdmissionRequest, ctx: HandlerContext, deps: HandlerDeps) => Promise<AdmissionAnswer>;
  readonly kind: (request: AdmissionRequest) => string;
}

/** `POST /mutate`: Pod CREATE. */
export const POD_ROUTE: AdmissionRoute = { path: '/mutate', handle: handleAdmission, kind: () => 'Pod' };

/** `POST /mutate-integrations`: Integration and Pipe CREATE and UPDATE. */
export const INTEGRATION_ROUTE: AdmissionRoute = { path: '/mutate-integrations', handle: admitIntegration, kind: integrationKindLabel };

/** The route serving `POST url`, if any (the query string is ignored). */
export function routeFor(url: string | undefined): AdmissionRoute | undefined {
  if (url === undefined) return undefined;
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  return path === POD_ROUTE.path ? POD_ROUTE : path === INTEGRATION_ROUTE.path ? INTEGRATION_ROUTE : undefined;
}
