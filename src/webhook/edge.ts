/**
 * The lean HTTP edge of the admission routes (`POST /mutate`, and every other admission path):
 * media type, encoding, body limit and JSON, then the AdmissionReview checks, the route's handler
 * under the apiserver's deadline, and `complete()`. Once a request uid is readable the answer is
 * always an AdmissionReview (an exception becomes `errored(500)` with that uid); before that, a
 * small JSON error body with a reason. No framework error page, no ETag hashing.
 *
 * Admission is the hot path, so it does not go through express: measured on the admission
 * benchmark, express's per-request machinery cost more than the whole admission.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { answer, type AdmissionAnswer, type OnErrorPolicy } from '../admit/answer.js';
import type { AdmissionContext } from '../admit/pod.js';
import { allowed, denied, errored, outcomeOf } from '../admit/result.js';
import { formatSeconds } from '../base/abort.js';
import type { Logger } from '../base/logger.js';
import { ADMISSION_API_VERSION, ADMISSION_KIND, complete, parseAdmissionReview, type AdmissionRequest } from './admission.js';
import { BodyBudget } from './body-budget.js';
import { DeadlineBatcher, parseTimeoutParam } from './deadline.js';
import { PARSED_BYTES_PER_VALUE, scanJson } from './json-shape.js';
import { ParsedRequests, requestKeyOf, type BodyKey } from './parsed-requests.js';
import { logAdmission, requestLogFields } from './logger.js';
import type { WebhookMetrics } from './metrics.js';

/** Largest request body accepted: etcd objects are at most ~1.5 MiB, so 7 MiB is generous. */
export const MAX_BODY_BYTES = 7 * 1024 * 1024;

/** One admission route's handler: a request and its context in, an answer out. */
export type AdmissionHandler = (request: AdmissionRequest, ctx: AdmissionContext) => Promise<AdmissionAnswer>;

/** Body of every non-AdmissionReview error answer. */
export interface ErrorBody {
  readonly error: string;
  readonly reason: string;
}

/** What the edge needs; built once by `serve`. */
export interface EdgeOptions {
  /** Handlers by exact path (`/mutate`). */
  readonly routes: Readonly<Record<string, AdmissionHandler>>;
  readonly metrics: WebhookMetrics;
  readonly logger: Logger;
  /** What a late answer does: deny, or admit unmutated with a warning. */
  readonly onError: OnErrorPolicy;
  /** Bytes of bodies held at once across requests; default {@link DEFAULT_BODY_BUDGET_BYTES}. */
  readonly budget?: BodyBudget;
  /** Requests kept parsed by their body but the uid; default a new one per edge. */
  readonly parsedRequests?: ParsedRequests;
}

/** The edge: which requests it serves, and how. */
export interface AdmissionEdge {
  /** The handler for a `POST` to one of the routes (query string allowed), else undefined. */
  match(req: IncomingMessage): AdmissionHandler | undefined;
  /** Reads, checks and answers one request matched by `match`. */
  serve(req: IncomingMessage, res: ServerResponse, handler: AdmissionHandler): void;
}

/** Creates the admission edge. */
export function createAdmissionEdge(options: EdgeOptions): AdmissionEdge {
  const { routes, metrics, logger, onError } = options;
  const budget = options.budget ?? new BodyBudget();
  const deadlines = new DeadlineBatcher();
  const parsedRequests = options.parsedRequests ?? new ParsedRequests();

  /** The answer when the handler ignored its signal too long: the edge speaks before the apiserver gives up. */
  const lateAnswer = (budgetMs: number): AdmissionAnswer =>
    onError === 'allow'
      ? answer(allowed(), 0, 'TIMEOUT', ['camel-oci: dependencies not injected: admission timed out'])
      : answer(
          denied(`camel-oci: admission did not finish within ${formatSeconds(budgetMs)} (registry slow or unreachable)`, 504),
          0,
          'TIMEOUT',
        );

  /**
   * Answers one parsed request body; `timeout` is the apiserver's `?timeout=` value. The handler's
   * answer and the deadline's last chance race through plain callbacks: whichever comes first is
   * sent, once (no promise per request for the race).
   */
  function admit(
    handler: AdmissionHandler,
    body: unknown,
    raw: Buffer,
    bodyKey: BodyKey | undefined,
    timeout: string | undefined,
    startedAt: number,
    res: ServerResponse,
  ): void {
    const parsed = parseAdmissionReview(body);
    if (!parsed.ok) {
      metrics.invalidRequest(400);
      logger.warn({ status: 400, code: parsed.code, reason: parsed.reason }, 'not an AdmissionReview');
      sendError(res, 400, 'BadRequest', parsed.reason);
      return;
    }
    const request = parsed.request;
    let requestKey: () => string | undefined;
    if (bodyKey !== undefined && request.uid === bodyKey.uid) {
      // Two bodies with equal keys whose parsed uid is the one scanned are equal but for the uid
      // (parsed-requests.ts), so the key stands for the request; a body seen again is kept parsed.
      parsedRequests.offer(bodyKey, raw, request);
      requestKey = () => bodyKey.key;
    } else {
      // Not keyed above (too large to keep parsed): the same key, computed only if the memo asks.
      requestKey = () => requestKeyOf(raw, request.uid);
    }
    run(handler, request, requestKey, timeout, startedAt, res);
  }

  /** Runs the handler of one request under its deadline and sends the answer. */
  function run(
    handler: AdmissionHandler,
    request: AdmissionRequest,
    requestKey: () => string | undefined,
    timeout: string | undefined,
    startedAt: number,
    res: ServerResponse,
  ): void {
    const deadline = deadlines.start(parseTimeoutParam(timeout), startedAt);
    let answered = false;
    const finish = (ans: AdmissionAnswer): void => {
      if (answered) return;
      answered = true;
      deadline.dispose();
      let sent: { warnings: number };
      try {
        sent = sendAnswer(res, request.uid, ans);
      } catch (err) {
        logger.error({ uid: request.uid, err }, 'admission failed with an exception');
        ans = answer(errored(500, err), 0, 'INTERNAL');
        sent = sendAnswer(res, request.uid, ans);
      }
      const durationMs = performance.now() - startedAt;
      const outcome = outcomeOf(ans.result);
      metrics.admission(outcome, durationMs / 1000, kindLabel(request), ans.reason);
      // The fields of the line are built only when it will be written (warn level: errored answers only).
      if (logger.isLevelEnabled(outcome === 'errored' ? 'warn' : 'info')) {
        logAdmission(logger, {
          uid: request.uid,
          ...requestLogFields(request),
          outcome,
          durationMs,
          references: ans.references,
          ...(ans.reason !== undefined ? { reason: ans.reason } : {}),
          ...(sent.warnings > 0 ? { warnings: sent.warnings } : {}),
        });
      }
    };
    deadline.onLastChance(() => finish(lateAnswer(deadline.budgetMs)));
    let pending: Promise<AdmissionAnswer>;
    try {
      pending = handler(request, { signal: deadline.signal, logger, requestKey });
    } catch (err) {
      pending = Promise.reject(err);
    }
    pending.then(finish, (err: unknown) => {
      if (answered) return;
      logger.error({ uid: request.uid, err }, 'admission failed with an exception');
      finish(answer(errored(500, err), 0, 'INTERNAL'));
    });
  }

  function serve(req: IncomingMessage, res: ServerResponse, handler: AdmissionHandler): void {
    const startedAt = performance.now();
    // What this request holds of the budget is given back once its answer is sent (or the connection drops).
    let held = 0;
    const release = (): void => {
      budget.release(held);
      held = 0;
    };
    res.once('close', release);
    const refuse = (status: number, error: string, reason: string, close: boolean): void => {
      metrics.invalidRequest(status);
      logger.warn({ status, reason }, 'request refused');
      // Nothing of a refused body is kept: its share of the budget is free now, not when the answer is sent.
      release();
      if (req.complete) {
        // The whole body was read: a costly or broken one is not worth a kept-alive connection.
        if (close) res.setHeader('connection', 'close');
        sendError(res, status, error, reason);
        return;
      }
      // Part of the body is still coming. Closing now would make the kernel reset the connection
      // over the unread bytes, and a reset loses the answer already sent: the client sees a broken
      // connection instead of 413 or 429. So the rest is read and thrown away (nothing is held),
      // within bounds, and the connection dropped only past them.
      sendError(res, status, error, reason);
      discardRest(req);
    };
    const problem = headerProblem(req);
    if (problem !== undefined) {
      refuse(problem.status, problem.error, problem.reason, problem.status === 413);
      return;
    }
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && STRING_FACTOR * declared > budget.limit - budget.inUse) {
      refuse(429, 'TooManyRequests', BUSY, true);
      return;
    }
    const reserve = (bytes: number): boolean => {
      if (!budget.tryReserve(bytes)) return false;
      held += bytes;
      return true;
    };
    // Each chunk reserves its bytes and the string parsing will make of them, while it arrives: a
    // body read to its end can always be parsed. Reserving the string only at the end let partial
    // bodies fill the budget so that none of them could ever be parsed (every one answered 429).
    readBody(
      req,
      MAX_BODY_BYTES,
      (bytes) => reserve(STRING_FACTOR * bytes),
      (body) => {
        if (body === 'too-large') {
          refuse(413, 'PayloadTooLarge', TOO_LARGE, true);
          return;
        }
        if (body === 'over-budget') {
          refuse(429, 'TooManyRequests', BUSY, true);
          return;
        }
        // admit and run answer every failure themselves; a throw is a bug in the edge.
        const lastResort = (work: () => void): void => {
          try {
            work();
          } catch (err) {
            logger.error({ err }, 'request failed');
            if (!res.headersSent) sendError(res, 500, 'InternalError', 'internal error');
            else res.destroy();
          }
        };
        // A body equal but for the uid to one kept parsed: no scan, no parse (parsed-requests.ts).
        const bodyKey = parsedRequests.keyOf(body);
        const kept = bodyKey && parsedRequests.get(bodyKey);
        if (bodyKey !== undefined && kept !== undefined) {
          lastResort(() => run(handler, kept, () => bodyKey.key, timeoutParam(req.url), startedAt, res));
          return;
        }
        const shape = scanJson(body);
        if (shape.problem !== undefined) {
          refuse(413, 'PayloadTooLarge', `request body too costly to parse: ${shape.problem}`, true);
          return;
        }
        // Parsing makes objects for every value: hold those too (the string is held already).
        if (!reserve(shape.values * PARSED_BYTES_PER_VALUE)) {
          refuse(429, 'TooManyRequests', BUSY, false);
          return;
        }
        let value: unknown;
        try {
          value = JSON.parse(body.toString('utf8'));
        } catch {
          refuse(400, 'BadRequest', 'request body is not valid JSON', true);
          return;
        }
        lastResort(() => admit(handler, value, body, bodyKey, timeoutParam(req.url), startedAt, res));
      },
    );
  }

  return {
    match(req) {
      if (req.method !== 'POST' || req.url === undefined) return undefined;
      const q = req.url.indexOf('?');
      return routes[q < 0 ? req.url : req.url.slice(0, q)];
    },
    serve,
  };
}

const TOO_LARGE = `request body is larger than ${MAX_BODY_BYTES / 1024 / 1024} MiB`;
const BUSY = 'too many request bytes in flight; retry';
/** Budget bytes per body byte while reading: the bytes, and the string `JSON.parse` reads them from. */
const STRING_FACTOR = 2;

/** The `kind` label an admission is counted under: what was admitted, or `other`. */
function kindLabel(request: AdmissionRequest): string {
  const kind = request.kind?.kind;
  return kind === 'Pod' || kind === 'Integration' || kind === 'Pipe' ? kind : 'other';
}

/**
 * What is wrong with a request's headers (media type, charset, encoding, declared length), if
 * anything. A body that is not JSON as the apiserver sends it is malformed input, a 400 with the
 * reason (docs/architecture.md), as controller-runtime's webhooks answer it, not a 415.
 */
function headerProblem(req: IncomingMessage): { status: number; error: string; reason: string } | undefined {
  const media = mediaTypeOf(req.headers['content-type']);
  if (media.type !== 'application/json') return { status: 400, error: 'BadRequest', reason: 'Content-Type must be application/json' };
  if (media.charset !== undefined && media.charset !== 'utf-8' && media.charset !== 'utf8') {
    return { status: 400, error: 'BadRequest', reason: 'unsupported charset (use utf-8)' };
  }
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') return { status: 400, error: 'BadRequest', reason: 'unsupported Content-Encoding' };
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) return { status: 413, error: 'PayloadTooLarge', reason: TOO_LARGE };
  return undefined;
}

/**
 * Reads a body of at most `max` bytes, each chunk first reserved with `reserve`; calls `done` once,
 * with the body, or with why it stopped reading. A broken stream never calls it.
 */
function readBody(
  req: IncomingMessage,
  max: number,
  reserve: (bytes: number) => boolean,
  done: (body: Buffer | 'too-large' | 'over-budget') => void,
): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const stop = (why: 'too-large' | 'over-budget'): void => {
    finished = true;
    chunks.length = 0;
    req.off('data', onData);
    done(why);
  };
  const onData = (chunk: Buffer): void => {
    if (finished) return;
    size += chunk.length;
    if (size > max) return stop('too-large');
    if (!reserve(chunk.length)) return stop('over-budget');
    chunks.push(chunk);
  };
  req.on('data', onData);
  req.on('error', () => {
    finished = true;
  });
  req.on('end', () => {
    if (finished) return;
    finished = true;
    done(Buffer.concat(chunks, size));
  });
}

/** Most bytes of a refused request's body read and thrown away before its connection is dropped. */
export const DISCARD_MAX_BYTES = MAX_BODY_BYTES;
/** Longest time given to the rest of a refused request's body before its connection is dropped. */
export const DISCARD_MAX_MS = 5_000;

/**
 * Reads the rest of a refused request's body without keeping it, so the answer reaches the client
 * (a lingering close); drops the connection once more than {@link DISCARD_MAX_BYTES} arrived or
 * {@link DISCARD_MAX_MS} passed. A body read to its end leaves the connection usable.
 */
function discardRest(req: IncomingMessage): void {
  let seen = 0;
  const drop = (): void => {
    done();
    req.destroy();
  };
  const timer = setTimeout(drop, DISCARD_MAX_MS);
  timer.unref();
  const onData = (chunk: Buffer): void => {
    seen += chunk.length;
    if (seen > DISCARD_MAX_BYTES) drop();
  };
  const done = (): void => {
    clearTimeout(timer);
    req.off('data', onData);
    req.off('end', done);
    req.off('close', done);
  };
  req.on('data', onData);
  req.once('end', done);
  req.once('close', done);
  req.resume();
}

/** The media type (lower-cased, without parameters) and charset of a Content-Type header. */
function mediaTypeOf(header: string | undefined): { type: string; charset?: string } {
  if (header === undefined) return { type: '' };
  const [type = '', ...params] = header.split(';');
  const charset = params.map((p) => /^\s*charset\s*=\s*"?([^";\s]+)"?\s*$/i.exec(p)?.[1]?.toLowerCase()).find((c) => c !== undefined);
  return { type: type.trim().toLowerCase(), ...(charset !== undefined ? { charset } : {}) };
}

/** The raw `timeout` query parameter of a request URL, if any. */
function timeoutParam(url: string | undefined): string | undefined {
  const q = url?.indexOf('?') ?? -1;
  if (q < 0) return undefined;
  return new URLSearchParams(url!.slice(q + 1)).get('timeout') ?? undefined;
}

/** Start of every AdmissionReview answer's JSON, up to the uid's value (`complete()` puts the uid first in the response). */
const REVIEW_HEAD = `{"apiVersion":"${ADMISSION_API_VERSION}","kind":"${ADMISSION_KIND}","response":{"uid":`;
const REVIEW_HEAD_BYTES = Buffer.from(REVIEW_HEAD);

/** An answer's wire form after the uid, and its count of warnings: the same for every request it answers. */
interface SerializedTail {
  readonly tail: Buffer;
  readonly warnings: number;
}

/**
 * Serialized answers by answer object. A workflow that hands the same (frozen) answer to many
 * requests, as the pod workflow does for identical pods, has it completed, bounded, serialized and
 * base64-encoded once; only the uid differs between the requests. Weak: an answer no one keeps goes.
 */
const tails = new WeakMap<AdmissionAnswer, SerializedTail>();

/** Sends the AdmissionReview answer of request `uid`; returns the count of warnings it carried. */
function sendAnswer(res: ServerResponse, uid: string, ans: AdmissionAnswer): { warnings: number } {
  let kept = tails.get(ans);
  if (kept === undefined) {
    const review = complete(uid, ans.result, { warnings: ans.warnings, auditAnnotations: ans.auditAnnotations });
    const text = JSON.stringify(review);
    const head = REVIEW_HEAD + JSON.stringify(uid);
    if (!text.startsWith(head)) throw new Error('AdmissionReview answer does not start with its uid');
    kept = { tail: Buffer.from(text.slice(head.length)), warnings: review.response.warnings?.length ?? 0 };
    if (Object.isFrozen(ans)) tails.set(ans, kept);
  }
  const uidBytes = Buffer.from(JSON.stringify(uid));
  const body = Buffer.concat([REVIEW_HEAD_BYTES, uidBytes, kept.tail], REVIEW_HEAD_BYTES.length + uidBytes.length + kept.tail.length);
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  res.end(body);
  return { warnings: kept.warnings };
}

/** Writes a JSON answer as one buffer with its length (one write on the TLS socket). */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length });
  res.end(body);
}

/** Writes a non-AdmissionReview error answer. */
export function sendError(res: ServerResponse, status: number, error: string, reason: string): void {
  sendJson(res, status, { error, reason } satisfies ErrorBody);
}
