/** Builds the registry client from settings: the one place that reads the files the registry flags name. */
import { readFile } from '../base/fs.js';
import { createRequire } from 'node:module';
import type { Agent } from 'undici';
import { raceSignal } from '../base/abort.js';
import { CamelOciError } from '../base/errors.js';
import { certificatesOf, PEM_CERTIFICATE_BEGIN } from '../base/pem.js';
import { RegistryClient } from './client.js';
import { parseDockerConfig } from '../oci/docker-config.js';
import type { DockerConfig } from '../oci/docker-config.js';
import { createNodeTransport } from './node-transport.js';
import type { SocketOpener } from './node-transport.js';
import type { Connector, LookupAll } from './transport.js';
import { RegistryPolicy } from './policy.js';
import type { MirrorTable } from './mirrors.js';
import type { AgentOptions } from './undici-transport.js';

/** Bound on files named by flags (CA bundles, docker configs): they are small text files. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** Registry settings as the commands hand them over. */
export interface RegistrySettings {
  readonly registryConfigs: readonly string[];
  readonly insecureRegistries: readonly string[];
  readonly allowRegistries: readonly string[];
  readonly caFiles: readonly string[];
  /** PEM texts of extra CA certificates trusted besides `caFiles` (fetch's `--ca-pem`), checked with {@link certificatesOf}. */
  readonly caPems?: readonly string[];
  /** `--registry-mirror`: mirrors by upstream host[:port] (registry/mirrors.ts); each meets the policy like a registry. */
  readonly mirrors?: MirrorTable;
  /** Injected DNS (tests): defaults to the system resolver. */
  readonly lookup?: LookupAll;
  /** Injected connector (tests): defaults to real TCP/TLS. */
  readonly connector?: Connector;
  /** Injected socket opener of the fetcher's node:http transport (tests): defaults to real TCP/TLS. */
  readonly openSocket?: SocketOpener;
  readonly onResponse?: (registry: string, status: number) => void;
  /** Called once per registry request that got no HTTP answer, with its error code. */
  readonly onNoResponse?: (registry: string, code: string) => void;
}

/** Reads a small text file named by a flag, with an error that names the flag. */
export async function readConfigFile(file: string, flag: string): Promise<string> {
  let text: Buffer;
  try {
    text = await readFile(file);
  } catch (err) {
    throw new CamelOciError(
      'CONFIG_INVALID',
      `--${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  if (text.length > MAX_CONFIG_FILE_BYTES)
    throw new CamelOciError('CONFIG_INVALID', `--${flag} ${file}: larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
  return text.toString('utf8');
}

/**
 * Reads the certificates of `--ca-file` files with {@link certificatesOf}, for handing on to the
 * init container. (createRegistryContext reads the same files again: they are small, read once
 * at start-up, and its own leniency stays as it was for the commands that only resolve.)
 */
export async function readCaCertificates(files: readonly string[]): Promise<string[]> {
  const texts = await Promise.all(files.map((f) => readConfigFile(f, 'ca-file')));
  return texts.flatMap((text, i) => certificatesOf(text, `--ca-file ${files[i]}`));
}

const load = createRequire(import.meta.url);

/**
 * The system resolver with all addresses, so policy sees every one. node:dns is loaded (through
 * CommonJS, at once) at the first host name: a plan of address literals never needs it.
 */
export const systemLookup: LookupAll = (hostname) =>
  (load('node:dns/promises') as typeof import('node:dns/promises')).lookup(hostname, { all: true, verbatim: true });

/** Everything a command needs to talk to registries. */
export interface RegistryContext {
  readonly policy: RegistryPolicy;
  readonly client: RegistryClient;
  readonly agent: Agent;
  readonly dockerConfigs: readonly DockerConfig[];
}

/** What a registry context is built from: policy, trusted CAs and docker configs. */
async function readRegistrySettings(
  settings: RegistrySettings,
): Promise<{ policy: RegistryPolicy; ca: string[]; dockerConfigs: DockerConfig[] }> {
  const policy = new RegistryPolicy({ allowRegistries: settings.allowRegistries, insecureRegistries: settings.insecureRegistries });
  const ca = await Promise.all(settings.caFiles.map((f) => readConfigFile(f, 'ca-file')));
  for (const [i, pem] of ca.entries()) {
    if (!pem.includes(PEM_CERTIFICATE_BEGIN)) {
      throw new CamelOciError('CONFIG_INVALID', `--ca-file ${settings.caFiles[i]}: no PEM certificate in it`);
    }
  }
  ca.push(...(settings.caPems ?? []));
  const dockerConfigs = await Promise.all(
    settings.registryConfigs.map(async (f) => parseDockerConfig(await readConfigFile(f, 'registry-config'), f)),
  );
  return { policy, ca, dockerConfigs };
}

/** Builds policy, undici connection pool, client and credentials from settings (the webhook's and resolve's). */
export async function createRegistryContext(settings: RegistrySettings): Promise<RegistryContext> {
  const { policy, ca, dockerConfigs } = await readRegistrySettings(settings);
  // Loaded here, not at the top: the fetch command imports this module and must not load undici.
  const { baseTransport, createAgent, exemptClients } = await import('./undici-transport.js');
  const agentOptions: AgentOptions = {
    ca,
    lookup: settings.lookup ?? systemLookup,
    check: (host, port, addresses, exempt) => policy.checkAddresses(host, port, addresses, exempt),
    ...(settings.connector ? { connector: settings.connector } : {}),
  };
  const agent = createAgent(agentOptions);
  const client = new RegistryClient({
    transport: baseTransport(agent, exemptClients(agentOptions)),
    checkUrl: (url) => policy.checkUrl(url),
    checkRealm: (realm, registry) => policy.checkRealm(realm, registry),
    ...(settings.onResponse ? { onResponse: settings.onResponse } : {}),
    ...(settings.onNoResponse ? { onNoResponse: settings.onNoResponse } : {}),
  });
  return { policy, client, agent, dockerConfigs };
}

/**
 * Closes a context's connection pool without outliving the command's deadline: gracefully while
 * `deadline` has not passed, and by destroying the pool (aborting in-flight requests) once it has,
 * or as soon as it does. A graceful close waits for every in-flight request, and a registry that
 * accepts and never answers would hold the command until the transport's own timeouts.
 */
export async function closeRegistryContext(context: Pick<RegistryContext, 'agent'>, deadline: AbortSignal): Promise<void> {
  const { agent } = context;
  if (deadline.aborted) {
    await agent.destroy();
    return;
  }
  const closing = agent.close();
  try {
    await raceSignal(closing, deadline);
  } catch {
    await agent.destroy();
  }
}

/** A registry context over the node:http base transport (the fetcher's); `close` drops its connections. */
export interface FetchRegistryContext {
  readonly policy: RegistryPolicy;
  readonly client: RegistryClient;
  readonly dockerConfigs: readonly DockerConfig[];
  close(): void;
}

/**
 * Builds policy, node:http connection pools, client and credentials from settings, for the init
 * container: node:http streams blobs with less memory than undici, and undici is never loaded.
 * `settings.connector` (an undici connector) does not apply here; `lookup` and `openSocket` do.
 */
export async function createFetchRegistryContext(settings: RegistrySettings): Promise<FetchRegistryContext> {
  const { policy, ca, dockerConfigs } = await readRegistrySettings(settings);
  const node = createNodeTransport({
    ca,
    lookup: settings.lookup ?? systemLookup,
    check: (host, port, addresses, exempt) => policy.checkAddresses(host, port, addresses, exempt),
    ...(settings.openSocket ? { openSocket: settings.openSocket } : {}),
  });
  const client = new RegistryClient({
    transport: node.transport,
    checkUrl: (url) => policy.checkUrl(url),
    checkRealm: (realm, registry) => policy.checkRealm(realm, registry),
    ...(settings.onResponse ? { onResponse: settings.onResponse } : {}),
    ...(settings.onNoResponse ? { onNoResponse: settings.onNoResponse } : {}),
  });
  return { policy, client, dockerConfigs, close: () => node.close() };
}
