/**
 * Starts a real registry (Debian's `docker-registry`, CNCF distribution 2.8.2) on 127.0.0.1 for
 * e2e tests and benchmarks: plain HTTP, HTTPS with a test CA, HTTPS + htpasswd (Basic), or HTTPS +
 * Bearer tokens from the harness token issuer. Each instance has its own temp dir, config and
 * storage, and an access log parsed from the registry's output so tests can count requests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcryptjs';
import { Agent, request } from 'undici';
import YAML from 'yaml';
import { freePort, LOOPBACK } from './ports.js';
import { issueServerCert, makeSigningCert, makeTestCa } from './test-ca.js';
import { startTokenIssuer, type Access, type GrantRequest, type TokenIssuer } from './token-issuer.js';

/** The registry binary (Debian package `docker-registry`). */
export const REGISTRY_BINARY = '/usr/bin/docker-registry';
/** How long the registry may take to answer `/v2/`; it takes about 150 ms on a 2-core machine. */
export const REGISTRY_START_TIMEOUT_MS = 10_000;
/** How long stop() waits after SIGTERM before SIGKILL. */
const STOP_GRACE_MS = 3_000;
/** Attempts at a fresh port when the registry loses the race for the one we picked. */
const PORT_ATTEMPTS = 5;
/** Interval between `/v2/` readiness probes. */
const PROBE_INTERVAL_MS = 15;
/** Characters of registry stderr kept for error messages (the rest of a long run is dropped). */
const STDERR_TAIL_CHARS = 16_384;
/** Default user for the 'basic' and 'token' modes. */
export const DEFAULT_USERS: Readonly<Record<string, string>> = Object.freeze({ alice: 's3cret' });
/** Realm the 'basic' mode's challenge names. */
export const BASIC_REALM = 'camel-oci-harness';
/**
 * Extra wait after the marker line of settledAccessLog(). distribution writes a line when the
 * handler returns: before a small (buffered) response reaches the client, but microseconds after
 * the last bytes of a streamed blob, so a marker on another connection could overtake that line.
 */
const SETTLE_GRACE_MS = 5;
/** Query parameter of the marker requests settledAccessLog() sends; their lines are never reported. */
const SYNC_PARAM = 'camel-oci-harness-sync';

/** How the registry is reached and who may use it. */
export type RegistryMode = 'plain' | 'tls' | 'basic' | 'token';

/** What one access log line was about. */
export type AccessKind = 'base' | 'catalog' | 'manifest' | 'blob' | 'upload' | 'tags' | 'referrers' | 'other';

/** One parsed line of the registry's access log (combined log format on its stdout). */
export interface AccessEntry {
  readonly method: string;
  /** Request URI as logged, query included (`/v2/acme/deps/manifests/1.0`). */
  readonly uri: string;
  /** The URI without its query, percent-decoded. */
  readonly path: string;
  readonly status: number;
  /** Response body bytes as logged (0 for `-`). */
  readonly bytes: number;
  readonly kind: AccessKind;
  /** Repository name for manifest, blob, upload, tags and referrers requests. */
  readonly repository?: string;
  /** Tag or digest for manifest and blob (and referrers) requests. */
  readonly reference?: string;
  readonly userAgent: string;
  /** `HTTP/1.1` or `HTTP/2.0`. */
  readonly protocol: string;
}

/** Options of startRegistry. */
export interface StartRegistryOptions {
  readonly mode: RegistryMode;
  /** user -> password for 'basic' and 'token' (default alice/s3cret); ignored otherwise. */
  readonly users?: Readonly<Record<string, string>>;
  /**
   * Storage root to use instead of one in the temp dir (created if missing, NOT removed by stop()),
   * so a second registry can serve what a first one stored.
   */
  readonly storageDir?: string;
  /** Deep-merged into the generated config (objects merge, other values replace, null deletes). */
  readonly extraConfig?: Readonly<Record<string, unknown>>;
  /** Extra DNS names in the server certificate (127.0.0.1 and localhost are always there). */
  readonly dnsNames?: readonly string[];
  /** 'token' mode: grant pull to anonymous requests (default true). */
  readonly anonymousPull?: boolean;
  /** 'token' mode: `expires_in` of issued tokens, seconds (default 300). */
  readonly tokenExpiresIn?: number;
  /** 'token' mode: replaces the issuer's grant policy. */
  readonly grant?: (request: GrantRequest) => readonly string[];
  /** Readiness deadline (default REGISTRY_START_TIMEOUT_MS). */
  readonly startTimeoutMs?: number;
}

/** A running registry. */
export interface StartedRegistry {
  readonly mode: RegistryMode;
  /** `127.0.0.1:PORT`: what goes in image references and docker configs. */
  readonly host: string;
  readonly port: number;
  /** `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`. */
  readonly url: string;
  /** PID of the registry process. */
  readonly pid: number;
  /** PEM file of the test CA (TLS modes). */
  readonly caFile?: string;
  /** PEM text of the test CA (TLS modes). */
  readonly caPem?: string;
  /** A directory holding only `ca.crt` (for skopeo's `--dest-cert-dir` / docker's certs.d). */
  readonly certDir?: string;
  /** user -> password accepted ('basic', 'token'); empty otherwise. */
  readonly users: Readonly<Record<string, string>>;
  /** Storage root (`rootdirectory` of the filesystem driver). */
  readonly storageDir: string;
  /** Per-instance temp dir (config, certs, storage unless given); removed by stop(). */
  readonly tempDir: string;
  /** The token issuer ('token' mode). */
  readonly tokenIssuer?: TokenIssuer;
  /**
   * An undici dispatcher that trusts the test CA (plain Agent in 'plain' mode); owned by the
   * registry and closed by stop(). Use with undici's `fetch`/`request`, not the global fetch.
   */
  readonly dispatcher: Agent;
  /** Access log entries seen so far (may miss the last request or two: see settledAccessLog). */
  accessLog(): AccessEntry[];
  /**
   * Access log entries including every request answered before this call: sends a marker request
   * and waits until its line is read (the registry writes lines in order, before the response).
   */
  settledAccessLog(): Promise<AccessEntry[]>;
  /** Forgets the entries so far (call settledAccessLog() first if recent requests must be dropped too). */
  resetAccessLog(): void;
  /** The last part of the registry's stderr (its application log). */
  stderrTail(): string;
  /** An `Authorization` value for direct requests: Basic, or a Bearer token minted for the scope; undefined without auth. */
  authorization(repository: string, actions?: readonly string[], user?: string): string | undefined;
  /** A `.dockerconfigjson` text with credentials of `user` (default: the first user) for `host`. */
  dockerConfig(user?: string): string;
  /** Writes dockerConfig(user) to `<dir>/config.json` and returns that path. */
  writeDockerConfig(dir: string, user?: string): Promise<string>;
  /** Kills the registry by PID, waits for it to exit, stops the issuer and removes the temp dir. */
  stop(): Promise<void>;
}

/** Path of a blob's data file in a registry's filesystem storage (to tamper with or delete it). */
export function blobPath(storageDir: string, digest: string): string {
  const match = /^([a-z0-9]+(?:[+._-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/.exec(digest);
  if (match === null || match[1] === undefined || match[2] === undefined || match[2].length < 2) {
    throw new Error(`blobPath: not a digest: ${digest}`);
  }
  const [, algorithm, hex] = match;
  return path.join(storageDir, 'docker', 'registry', 'v2', 'blobs', algorithm, hex.slice(0, 2), hex, 'data');
}

// Combined log format as gorilla/handlers writes it:
// 127.0.0.1 - - [28/Nov/2026:00:03:44 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1"
const ACCESS_LINE = /^\S+ \S+ \S+ \[[^\]]*\] "(\S+) (\S+) ([^"]*)" (\d{3}) (\d+|-)(?: "((?:[^"\\]|\\.)*)" "((?:[^"\\]|\\.)*)")?\s*$/;

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** Classifies a registry API path (the order matters: uploads live under blobs/). */
export function classifyPath(pathname: string): Pick<AccessEntry, 'kind' | 'repository' | 'reference'> {
  if (pathname === '/v2/' || pathname === '/v2') return { kind: 'base' };
  if (pathname === '/v2/_catalog') return { kind: 'catalog' };
  let m = /^\/v2\/(.+)\/blobs\/uploads(?:\/.*)?$/.exec(pathname);
  if (m !== null) return { kind: 'upload', repository: m[1] };
  m = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(pathname);
  if (m !== null) return { kind: 'manifest', repository: m[1], reference: m[2] };
  m = /^\/v2\/(.+)\/blobs\/([^/]+)$/.exec(pathname);
  if (m !== null) return { kind: 'blob', repository: m[1], reference: m[2] };
  m = /^\/v2\/(.+)\/tags\/list$/.exec(pathname);
  if (m !== null) return { kind: 'tags', repository: m[1] };
  m = /^\/v2\/(.+)\/referrers\/([^/]+)$/.exec(pathname);
  if (m !== null) return { kind: 'referrers', repository: m[1], reference: m[2] };
  return { kind: 'other' };
}

/** Parses one access log line; undefined for anything else (application log lines, partial lines). */
export function parseAccessLine(line: string): AccessEntry | undefined {
  const m = ACCESS_LINE.exec(line);
  if (m === null) return undefined;
  const [, method = '', uri = '', protocol = '', status = '0', bytes = '-', , userAgent = ''] = m;
  const queryAt = uri.indexOf('?');
  const pathname = safeDecode(queryAt < 0 ? uri : uri.slice(0, queryAt));
  return {
    method,
    uri,
    path: pathname,
    status: Number(status),
    bytes: bytes === '-' ? 0 : Number(bytes),
    ...classifyPath(pathname),
    userAgent,
    protocol,
  };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge for config overrides: objects merge, arrays and scalars replace, null deletes. */
export function mergeConfig(base: Record<string, unknown>, extra: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    if (value === null) delete out[key];
    else if (isPlainObject(value) && isPlainObject(current)) out[key] = mergeConfig(current, value);
    else out[key] = value;
  }
  return out;
}

// Registry children still running; killed by PID if the test process exits without stop().
const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', () => {
      for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

interface Spawned {
  child: ChildProcess;
  port: number;
  entries: AccessEntry[];
  stderr: () => string;
  /** Resolves when a line containing `needle` is read from stdout. */
  waitForLine: (needle: string, timeoutMs: number) => Promise<void>;
}

function spawnRegistry(configFile: string, cwd: string, port: number): Spawned {
  const child = spawn(REGISTRY_BINARY, ['serve', configFile], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  track(child);
  const entries: AccessEntry[] = [];
  const waiters = new Map<string, () => void>();
  let stdoutRest = '';
  let stderrTail = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (chunk: string) => {
    const lines = (stdoutRest + chunk).split('\n');
    stdoutRest = lines.pop() ?? '';
    for (const line of lines) {
      const entry = parseAccessLine(line);
      if (entry === undefined) continue;
      const waiter = [...waiters.entries()].find(([needle]) => entry.uri.includes(needle));
      if (waiter !== undefined) {
        waiters.delete(waiter[0]);
        waiter[1]();
      }
      if (entry.uri.includes(SYNC_PARAM)) continue;
      entries.push(entry);
    }
  });
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderrTail = (stderrTail + chunk).slice(-STDERR_TAIL_CHARS);
  });
  const waitForLine = (needle: string, timeoutMs: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        waiters.delete(needle);
        reject(new Error(`registry access log did not show ${needle} within ${timeoutMs} ms`));
      }, timeoutMs);
      waiters.set(needle, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  return { child, port, entries, stderr: () => stderrTail, waitForLine };
}

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

async function waitForExit(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (exited(child)) return true;
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

async function killAndWait(child: ChildProcess): Promise<void> {
  if (exited(child)) return;
  child.kill('SIGTERM');
  if (await waitForExit(child, STOP_GRACE_MS)) return;
  child.kill('SIGKILL');
  await waitForExit(child, STOP_GRACE_MS);
}

type ReadyResult = 'ready' | 'port-taken';

/** Polls `/v2/` until it answers with any status, the child exits, or the deadline passes. */
async function waitUntilReady(spawned: Spawned, url: string, dispatcher: Agent, deadline: number): Promise<ReadyResult> {
  const { child } = spawned;
  for (;;) {
    if (exited(child)) {
      if (/address already in use/i.test(spawned.stderr())) return 'port-taken';
      throw new Error(`docker-registry exited (code ${child.exitCode}, signal ${child.signalCode}) before answering:\n${spawned.stderr()}`);
    }
    const remaining = deadline - Date.now();
    if (remaining <= 0) break;
    try {
      const res = await request(`${url}/v2/`, {
        dispatcher,
        headersTimeout: Math.max(1, Math.min(remaining, 2_000)),
        bodyTimeout: Math.max(1, Math.min(remaining, 2_000)),
      });
      await res.body.dump();
      return 'ready';
    } catch {
      await new Promise((r) => setTimeout(r, PROBE_INTERVAL_MS));
    }
  }
  throw new Error(`docker-registry did not answer ${url}/v2/ in time; stderr tail:\n${spawned.stderr()}`);
}

function basicValue(user: string, password: string): string {
  return 'Basic ' + Buffer.from(`${user}:${password}`).toString('base64');
}

/** Starts a registry in the given mode and waits until it answers. */
export async function startRegistry(options: StartRegistryOptions): Promise<StartedRegistry> {
  const { mode } = options;
  const secure = mode !== 'plain';
  const tempDir = await mkdtemp(path.join(os.tmpdir(), `camel-oci-registry-${mode}-`));
  const cleanups: Array<() => Promise<void>> = [() => rm(tempDir, { recursive: true, force: true })];
  const cleanup = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  };

  try {
    const storageDir = options.storageDir ?? path.join(tempDir, 'storage');
    await mkdir(storageDir, { recursive: true });
    const users: Readonly<Record<string, string>> =
      mode === 'basic' || mode === 'token' ? Object.freeze({ ...(options.users ?? DEFAULT_USERS) }) : Object.freeze({});

    // Certificates: one CA and one server certificate, shared by the registry and the token issuer.
    let caFile: string | undefined;
    let caPem: string | undefined;
    let certDir: string | undefined;
    const config: Record<string, unknown> = {
      version: 0.1,
      log: { level: 'info', formatter: 'text', accesslog: { disabled: false } },
      storage: {
        filesystem: { rootdirectory: storageDir },
        delete: { enabled: true },
        // No background purge of upload dirs during a test.
        maintenance: { uploadpurging: { enabled: false } },
      },
      http: {
        addr: '', // set per attempt below
        // A fixed secret silences the "No HTTP secret provided" warning.
        secret: randomBytes(16).toString('hex'),
      },
    };
    const http = config.http as Record<string, unknown>;
    let tokenIssuer: TokenIssuer | undefined;

    if (secure) {
      const certsDir = path.join(tempDir, 'certs');
      await mkdir(certsDir);
      const ca = await makeTestCa(certsDir);
      const [server, signer] = await Promise.all([
        issueServerCert(ca, { dnsNames: options.dnsNames ?? [] }),
        mode === 'token' ? makeSigningCert(certsDir) : Promise.resolve(undefined),
      ]);
      caFile = ca.certFile;
      caPem = ca.certPem;
      // skopeo treats every *.key in a cert dir as a client key, so this dir holds the CA alone.
      certDir = path.join(tempDir, 'cert-dir');
      await mkdir(certDir);
      await writeFile(path.join(certDir, 'ca.crt'), ca.certPem);
      http.tls = { certificate: server.certFile, key: server.keyFile };

      if (mode === 'basic') {
        const htpasswd = path.join(tempDir, 'htpasswd');
        // distribution 2.8 accepts bcrypt only; cost 4 (the minimum) keeps logins fast.
        const lines = Object.entries(users).map(([user, password]) => `${user}:${bcrypt.hashSync(password, 4)}`);
        await writeFile(htpasswd, lines.join('\n') + '\n');
        config.auth = { htpasswd: { realm: BASIC_REALM, path: htpasswd } };
      } else if (mode === 'token' && signer !== undefined) {
        tokenIssuer = await startTokenIssuer({
          tls: server,
          signer,
          users,
          ...(options.anonymousPull !== undefined ? { anonymousPull: options.anonymousPull } : {}),
          ...(options.tokenExpiresIn !== undefined ? { expiresIn: options.tokenExpiresIn } : {}),
          ...(options.grant !== undefined ? { grant: options.grant } : {}),
        });
        const issuer = tokenIssuer;
        cleanups.push(() => issuer.close());
        config.auth = {
          token: {
            realm: tokenIssuer.url,
            service: tokenIssuer.service,
            issuer: tokenIssuer.issuer,
            rootcertbundle: signer.certFile,
          },
        };
      }
    }

    const dispatcher = new Agent(caPem !== undefined ? { connect: { ca: caPem } } : {});
    cleanups.push(() => dispatcher.close());
    const configFile = path.join(tempDir, 'config.yml');
    const deadline = Date.now() + (options.startTimeoutMs ?? REGISTRY_START_TIMEOUT_MS);

    let spawned: Spawned | undefined;
    let url = '';
    for (let attempt = 1; spawned === undefined; attempt++) {
      const port = await freePort();
      http.addr = `${LOOPBACK}:${port}`;
      const finalConfig = options.extraConfig !== undefined ? mergeConfig(config, options.extraConfig) : config;
      await writeFile(configFile, YAML.stringify(finalConfig));
      url = `${secure ? 'https' : 'http'}://${LOOPBACK}:${port}`;
      const candidate = spawnRegistry(configFile, tempDir, port);
      cleanups.push(() => killAndWait(candidate.child));
      const result = await waitUntilReady(candidate, url, dispatcher, deadline);
      if (result === 'ready') spawned = candidate;
      else if (attempt >= PORT_ATTEMPTS) throw new Error(`docker-registry could not bind a port in ${PORT_ATTEMPTS} attempts`);
    }
    const { child, port, entries } = spawned;
    const running = spawned;

    async function settledAccessLog(): Promise<AccessEntry[]> {
      const marker = `${SYNC_PARAM}=${randomUUID()}`;
      const seen = running.waitForLine(marker, 5_000);
      const res = await request(`${url}/v2/?${marker}`, { dispatcher });
      await res.body.dump();
      await seen;
      await new Promise((r) => setTimeout(r, SETTLE_GRACE_MS));
      return [...entries];
    }
    // Readiness probes are not part of any test's traffic.
    await settledAccessLog();
    entries.length = 0;

    const userNames = Object.keys(users);
    const passwordOf = (user: string | undefined): [string, string] | undefined => {
      const name = user ?? userNames[0];
      if (name === undefined) return undefined;
      const password = users[name];
      if (password === undefined) throw new Error(`registry has no user ${name}`);
      return [name, password];
    };

    const dockerConfig = (user?: string): string => {
      const cred = passwordOf(user);
      if (cred === undefined) return JSON.stringify({ auths: {} });
      const [username, password] = cred;
      const auth = Buffer.from(`${username}:${password}`).toString('base64');
      return JSON.stringify({ auths: { [`${LOOPBACK}:${port}`]: { username, password, auth } } });
    };

    let stopped: Promise<void> | undefined;
    return {
      mode,
      host: `${LOOPBACK}:${port}`,
      port,
      url,
      pid: child.pid ?? -1,
      ...(caFile !== undefined ? { caFile } : {}),
      ...(caPem !== undefined ? { caPem } : {}),
      ...(certDir !== undefined ? { certDir } : {}),
      users,
      storageDir,
      tempDir,
      ...(tokenIssuer !== undefined ? { tokenIssuer } : {}),
      dispatcher,
      accessLog: () => [...entries],
      settledAccessLog,
      resetAccessLog: () => {
        entries.length = 0;
      },
      stderrTail: running.stderr,
      authorization(repository, actions = ['pull'], user) {
        if (mode === 'basic') {
          const cred = passwordOf(user);
          return cred === undefined ? undefined : basicValue(...cred);
        }
        if (mode === 'token' && tokenIssuer !== undefined) {
          const access: Access[] = [{ type: 'repository', name: repository, actions: [...actions] }];
          return `Bearer ${tokenIssuer.mint(access, { sub: user ?? userNames[0] ?? '' })}`;
        }
        return undefined;
      },
      dockerConfig,
      async writeDockerConfig(dir, user) {
        await mkdir(dir, { recursive: true });
        const file = path.join(dir, 'config.json');
        await writeFile(file, dockerConfig(user));
        return file;
      },
      stop() {
        stopped ??= cleanup();
        return stopped;
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
