/**
 * The webhook's HTTPS server with certificate reload. The certificate and key are read at start
 * (a missing or bad pair is a configuration error, reported before `listen()`), then watched: a
 * new valid pair replaces the TLS context for new connections through `server.setSecureContext()`
 * without a restart and without touching connections already open; a bad pair is reported and the
 * old one stays in service.
 *
 * Kubernetes updates a Secret volume by writing a new timestamped directory and swapping the
 * `..data` symlink (tls.crt -> ..data/tls.crt), so the files themselves are never modified in
 * place: a watch on the file would follow the old inode and miss the update. We watch the directory
 * that holds each file, and poll as well because inotify is absent or unreliable on some volumes.
 */
import { X509Certificate, createHash, createPrivateKey } from 'node:crypto';
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import tls from 'node:tls';
import { ServeError, asCamelOciError } from '../base/errors.js';

/** Poll period: fs.watch misses updates on some volumes (NFS, some overlay setups); kubelet itself refreshes Secrets only every minute or so. */
export const DEFAULT_POLL_INTERVAL_MS = 10_000;
/** Quiet time after a file event before reloading: one update writes several files (cert, key, CA, symlink). */
export const RELOAD_DEBOUNCE_MS = 100;
/** Time allowed for request headers: the apiserver sends them at once; this bounds slow-header clients. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** Time allowed for a whole request: above the 30 s maximum webhook timeoutSeconds, so the handler's own deadline answers first. */
export const REQUEST_TIMEOUT_MS = 35_000;
/** Idle keep-alive time: longer than Go's http.Transport IdleConnTimeout (90 s) so the apiserver closes idle connections, not us mid-request. */
export const KEEP_ALIVE_TIMEOUT_MS = 95_000;

/** What is being served right now. */
export interface ServedCertificate {
  /** SHA-256 fingerprint as node:crypto prints it (AA:BB:...). */
  readonly fingerprint256: string;
  readonly subject: string;
  readonly subjectAltName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** Options of `createReloadingHttpsServer`. */
export interface ReloadingHttpsOptions {
  /** PEM certificate (chain) file, e.g. a Secret volume's tls.crt. */
  readonly certFile: string;
  /** PEM private key file, e.g. a Secret volume's tls.key. */
  readonly keyFile: string;
  /** Optional PEM CA file (ca.crt); it is given to the TLS context so the served chain can include it. */
  readonly caFile?: string;
  /** Lowest TLS version accepted; 1.2 is what the apiserver requires and the floor we allow. */
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
  /** Called after a new certificate went into service. */
  readonly onReload?: (certificate: ServedCertificate) => void;
  /** Called when a reload failed (the previous certificate stays in service) or watching failed. */
  readonly onError?: (err: ServeError) => void;
  /** Poll period in ms; 0 disables polling (watch only). */
  readonly pollIntervalMs?: number;
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
  /** Clock for `ready()`'s expiry check. */
  readonly now?: () => number;
}

/** The server and its controls. The caller calls `server.listen()`. */
export interface ReloadingHttpsServer {
  readonly server: https.Server;
  /** True while a certificate is loaded and within its validity and the server is not closing. */
  ready(): boolean;
  /** Stops watching, stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
  /** Re-reads the files now (e.g. on SIGHUP); true when a new certificate went into service. */
  reload(): Promise<boolean>;
  /** The certificate now served to new connections. */
  certificate(): ServedCertificate;
}

interface KeyMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
}

interface LoadedPair {
  readonly digest: string;
  readonly context: tls.SecureContextOptions;
  readonly info: ServedCertificate;
}

/** Creates an HTTPS server serving `handler` with the given certificate files, reloading them when they change. */
export function createReloadingHttpsServer(handler: http.RequestListener, options: ReloadingHttpsOptions): ReloadingHttpsServer {
  const minVersion = options.minVersion ?? 'TLSv1.2';
  if (minVersion !== 'TLSv1.2' && minVersion !== 'TLSv1.3') {
    throw new ServeError('CONFIG_INVALID', `TLS minimum version must be TLSv1.2 or TLSv1.3, got ${String(minVersion)}`);
  }
  const pollIntervalMs = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  if (!Number.isFinite(pollIntervalMs) || pollIntervalMs < 0) {
    throw new ServeError('CONFIG_INVALID', `certificate poll interval must be 0 (off) or a positive number of ms, got ${pollIntervalMs}`);
  }
  const files = {
    certFile: path.resolve(options.certFile),
    keyFile: path.resolve(options.keyFile),
    ...(options.caFile === undefined ? {} : { caFile: path.resolve(options.caFile) }),
  };
  const now = options.now ?? Date.now;
  const onError = options.onError ?? ((err: ServeError) => process.stderr.write(`camel-oci: ${err.message}\n`));

  let current = validatePair(readMaterialSync(files), files, minVersion); // throws CONFIG_INVALID before anything starts
  const headersTimeout = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  const requestTimeout = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const server = https.createServer({ ...current.context, keepAlive: true, noDelay: true, headersTimeout, requestTimeout }, handler);
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = headersTimeout;
  server.requestTimeout = requestTimeout;

  let closed = false;
  // The last content that failed, so a bad pair is reported once, not at every poll.
  let lastFailure: string | undefined;

  async function reloadOnce(): Promise<boolean> {
    let material: KeyMaterial;
    try {
      material = await readMaterial(files);
    } catch (err) {
      report(`read:${(err as Error).message}`, err);
      return false;
    }
    const digest = digestOf(material);
    if (closed || digest === current.digest || digest === lastFailure) return false;
    let next: LoadedPair;
    try {
      next = validatePair(material, files, minVersion);
      // Only new connections use the new context; open ones keep theirs until they end.
      server.setSecureContext(next.context);
    } catch (err) {
      report(digest, err);
      return false;
    }
    current = next;
    lastFailure = undefined;
    try {
      options.onReload?.(next.info);
    } catch {
      // A throwing callback must not undo a reload that already happened.
    }
    return true;
  }

  function report(failureKey: string, err: unknown): void {
    if (failureKey === lastFailure) return;
    lastFailure = failureKey;
    const e = asCamelOciError(err);
    const serveErr =
      e instanceof ServeError ? e : new ServeError('CONFIG_INVALID', `new TLS certificate not loaded: ${e.message}`, { cause: err });
    try {
      onError(
        new ServeError(serveErr.code, `${serveErr.message}; still serving the previous certificate (${current.info.fingerprint256})`, {
          cause: serveErr,
          context: { certFile: files.certFile, keyFile: files.keyFile },
        }),
      );
    } catch {
      // Reporting must not break the reload loop.
    }
  }

  // Reloads never overlap: one runs, at most one more waits and then reads the latest files.
  let running: Promise<boolean> | undefined;
  let queued: Promise<boolean> | undefined;
  function reload(): Promise<boolean> {
    if (closed) return Promise.resolve(false);
    if (queued !== undefined) return queued;
    if (running !== undefined) {
      queued = running.then(() => {
        queued = undefined;
        return start();
      });
      return queued;
    }
    return start();
  }
  function start(): Promise<boolean> {
    const p = reloadOnce().finally(() => {
      if (running === p) running = undefined;
    });
    running = p;
    return p;
  }

  let debounce: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    if (closed) return;
    if (debounce !== undefined) clearTimeout(debounce);
    debounce = setTimeout(() => void reload(), RELOAD_DEBOUNCE_MS);
    debounce.unref();
  };

  const watchers: FSWatcher[] = [];
  const dirs = new Set([files.certFile, files.keyFile, ...(files.caFile === undefined ? [] : [files.caFile])].map((f) => path.dirname(f)));
  for (const dir of dirs) {
    const watchFailed = (err: unknown): void => {
      const how =
        pollIntervalMs > 0 ? `polling every ${pollIntervalMs} ms instead` : 'certificate changes will not be noticed (polling is off)';
      onError(
        new ServeError('IO_ERROR', `cannot watch ${dir} for certificate changes (${(err as Error).message}); ${how}`, {
          cause: err,
          context: { dir },
        }),
      );
    };
    try {
      // persistent false: watching must not keep a closed server's process alive.
      const w = watch(dir, { persistent: false }, schedule);
      w.on('error', (err) => {
        watchFailed(err);
        w.close();
      });
      watchers.push(w);
    } catch (err) {
      watchFailed(err);
    }
  }
  const poll = pollIntervalMs > 0 ? setInterval(() => void reload(), pollIntervalMs) : undefined;
  poll?.unref();

  return {
    server,
    ready: () => !closed && now() >= current.info.notBefore.getTime() && now() < current.info.notAfter.getTime(),
    reload,
    certificate: () => current.info,
    async close() {
      if (closed) return;
      closed = true;
      if (debounce !== undefined) clearTimeout(debounce);
      if (poll !== undefined) clearInterval(poll);
      for (const w of watchers) w.close();
      if (!server.listening) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Idle keep-alive connections would otherwise hold close() for the keep-alive timeout.
        server.closeIdleConnections();
      });
    },
  };
}

function readMaterialSync(files: { certFile: string; keyFile: string; caFile?: string }): KeyMaterial {
  const read = (file: string, what: string): Buffer => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw readError(file, what, err);
    }
  };
  return {
    cert: read(files.certFile, 'certificate'),
    key: read(files.keyFile, 'private key'),
    ...(files.caFile === undefined ? {} : { ca: read(files.caFile, 'CA certificate') }),
  };
}

async function readMaterial(files: { certFile: string; keyFile: string; caFile?: string }): Promise<KeyMaterial> {
  const read = (file: string, what: string): Promise<Buffer> =>
    readFile(file).catch((err: unknown) => {
      throw readError(file, what, err);
    });
  const [cert, key, ca] = await Promise.all([
    read(files.certFile, 'certificate'),
    read(files.keyFile, 'private key'),
    files.caFile === undefined ? undefined : read(files.caFile, 'CA certificate'),
  ]);
  return { cert, key, ...(ca === undefined ? {} : { ca }) };
}

function readError(file: string, what: string, err: unknown): ServeError {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  return new ServeError(
    'CONFIG_INVALID',
    `cannot read the TLS ${what} file ${file} (${code}); mount the webhook's TLS Secret there or generate files with \`camel-oci certs\``,
    { cause: err, context: { file } },
  );
}

function digestOf(m: KeyMaterial): string {
  const h = createHash('sha256');
  for (const part of [m.cert, m.key, m.ca ?? Buffer.alloc(0)]) {
    h.update(String(part.length)).update(':').update(part);
  }
  return h.digest('hex');
}

/** Checks a certificate/key pair the way a person debugging it would want it explained, then builds the TLS context options. */
function validatePair(
  m: KeyMaterial,
  files: { certFile: string; keyFile: string; caFile?: string },
  minVersion: tls.SecureVersion,
): LoadedPair {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(m.cert);
  } catch (err) {
    throw new ServeError('CONFIG_INVALID', `${files.certFile} does not hold a PEM certificate`, {
      cause: err,
      context: { file: files.certFile },
    });
  }
  let matches: boolean;
  try {
    matches = x509.checkPrivateKey(createPrivateKey(m.key));
  } catch (err) {
    throw new ServeError('CONFIG_INVALID', `${files.keyFile} does not hold an unencrypted PEM private key`, {
      cause: err,
      context: { file: files.keyFile },
    });
  }
  if (!matches) {
    throw new ServeError('CONFIG_INVALID', `the private key in ${files.keyFile} does not belong to the certificate in ${files.certFile}`, {
      context: { certFile: files.certFile, keyFile: files.keyFile },
    });
  }
  if (m.ca !== undefined && files.caFile !== undefined) {
    try {
      new X509Certificate(m.ca);
    } catch (err) {
      throw new ServeError('CONFIG_INVALID', `${files.caFile} does not hold a PEM certificate`, {
        cause: err,
        context: { file: files.caFile },
      });
    }
  }
  const context: tls.SecureContextOptions = { cert: m.cert, key: m.key, minVersion, ...(m.ca === undefined ? {} : { ca: m.ca }) };
  try {
    tls.createSecureContext(context); // what setSecureContext will do; fail here, before swapping
  } catch (err) {
    throw new ServeError('CONFIG_INVALID', `TLS refused ${files.certFile} / ${files.keyFile}: ${(err as Error).message}`, { cause: err });
  }
  return {
    digest: digestOf(m),
    context,
    info: {
      fingerprint256: x509.fingerprint256,
      subject: x509.subject,
      subjectAltName: x509.subjectAltName ?? '',
      notBefore: new Date(x509.validFrom),
      notAfter: new Date(x509.validTo),
    },
  };
}
