/**
 * An HTTPS server whose certificate is handed over in memory (self-managed mode reads it from the
 * TLS Secret through the apiserver, not from files). Until the first certificate arrives every
 * handshake fails, so probes and the apiserver see "not ready", never a wrong certificate. A new
 * certificate replaces the TLS context for new connections with `server.setSecureContext()`;
 * connections already open keep theirs, so a rotation drops no request.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { ServeError } from '../base/errors.js';
import { HEADERS_TIMEOUT_MS, KEEP_ALIVE_TIMEOUT_MS, REQUEST_TIMEOUT_MS, type ServedCertificate } from './tls-server.js';

/** Options of {@link createMemoryHttpsServer}. */
export interface MemoryHttpsOptions {
  readonly minVersion?: 'TLSv1.2' | 'TLSv1.3';
  readonly headersTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
  /** Clock for `ready()`'s validity check. */
  readonly now?: () => number;
}

/** The server and its controls. The caller calls `server.listen()`. */
export interface MemoryHttpsServer {
  readonly server: https.Server;
  /** Checks the pair and puts it into service for new connections; throws ServeError CONFIG_INVALID (the old pair stays). */
  load(certPem: string, keyPem: string): ServedCertificate;
  /** True while a certificate is loaded and within its validity and the server is not closing. */
  ready(): boolean;
  /** The certificate now served, if any. */
  certificate(): ServedCertificate | undefined;
  /** Stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

/** Creates an HTTPS server serving `handler`, with no certificate until `load()`. */
export function createMemoryHttpsServer(handler: http.RequestListener, options: MemoryHttpsOptions = {}): MemoryHttpsServer {
  const minVersion = options.minVersion ?? 'TLSv1.2';
  const now = options.now ?? Date.now;
  const headersTimeout = options.headersTimeoutMs ?? HEADERS_TIMEOUT_MS;
  const requestTimeout = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const server = https.createServer({ minVersion, keepAlive: true, noDelay: true, headersTimeout, requestTimeout }, handler);
  server.keepAliveTimeout = options.keepAliveTimeoutMs ?? KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = headersTimeout;
  server.requestTimeout = requestTimeout;
  // Handshakes before the first certificate fail by design; they are not worth an error event each.
  server.on('tlsClientError', () => undefined);
  let current: ServedCertificate | undefined;
  let closed = false;
  return {
    server,
    load(certPem, keyPem) {
      let x509: X509Certificate;
      try {
        x509 = new X509Certificate(certPem);
        if (!x509.checkPrivateKey(createPrivateKey(keyPem))) throw new Error('the private key does not belong to the certificate');
        const context = { cert: certPem, key: keyPem, minVersion };
        tls.createSecureContext(context); // fails here, before swapping, on anything TLS refuses
        server.setSecureContext(context);
      } catch (err) {
        throw new ServeError('CONFIG_INVALID', `TLS certificate from the Secret not loaded: ${(err as Error).message}`, { cause: err });
      }
      current = {
        fingerprint256: x509.fingerprint256,
        subject: x509.subject,
        subjectAltName: x509.subjectAltName ?? '',
        notBefore: new Date(x509.validFrom),
        notAfter: new Date(x509.validTo),
      };
      return current;
    },
    ready: () => !closed && current !== undefined && now() >= current.notBefore.getTime() && now() < current.notAfter.getTime(),
    certificate: () => current,
    async close() {
      if (closed) return;
      closed = true;
      if (!server.listening) return;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
