/** Builds the registry client and Resolver from parsed flags: the one place that reads their files. */
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import type { Agent } from 'undici';
import { CamelOciError } from '../errors.js';
import { RegistryClient } from '../oci/client.js';
import { parseDockerConfig } from '../oci/docker-config.js';
import type { DockerConfig } from '../oci/docker-config.js';
import { createAgent } from '../oci/transport.js';
import type { Connector, LookupAll } from '../oci/transport.js';
import { RegistryPolicy } from './policy.js';
import { Resolver } from './resolver.js';
import type { CacheResult } from './resolver.js';

/** Bound on files named by flags (CA bundles, docker configs): they are small text files. */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

/** Registry settings as the commands hand them over. */
export interface RegistrySettings {
  readonly registryConfigs: readonly string[];
  readonly insecureRegistries: readonly string[];
  readonly allowRegistries: readonly string[];
  readonly caFiles: readonly string[];
  /** Injected DNS (tests): defaults to the system resolver. */
  readonly lookup?: LookupAll;
  /** Injected connector (tests): defaults to real TCP/TLS. */
  readonly connector?: Connector;
  readonly onResponse?: (registry: string, status: number) => void;
}

/** Resolver settings on top of the registry's. */
export interface ResolverSettings extends RegistrySettings {
  readonly platform: string;
  readonly tagTtlMs: number;
  readonly staleGraceMs: number;
  readonly onCache?: (cache: 'tag' | 'manifest', result: CacheResult) => void;
}

/** Reads a small text file named by a flag, with an error that names the flag. */
export async function readConfigFile(file: string, flag: string): Promise<string> {
  let text: Buffer;
  try {
    text = await readFile(file);
  } catch (err) {
    throw new CamelOciError('CONFIG_INVALID', `--${flag} ${file}: cannot read it (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (text.length > MAX_CONFIG_FILE_BYTES) throw new CamelOciError('CONFIG_INVALID', `--${flag} ${file}: larger than ${MAX_CONFIG_FILE_BYTES} bytes`);
  return text.toString('utf8');
}

/** The system resolver with all addresses, so policy sees every one. */
export const systemLookup: LookupAll = (hostname) => lookup(hostname, { all: true, verbatim: true });

/** Everything a command needs to talk to registries. */
export interface RegistryContext {
  readonly policy: RegistryPolicy;
  readonly client: RegistryClient;
  readonly agent: Agent;
  readonly dockerConfigs: readonly DockerConfig[];
}

/** Builds policy, connection pool, client and credentials from settings. */
export async function createRegistryContext(settings: RegistrySettings): Promise<RegistryContext> {
  const policy = new RegistryPolicy({ allowRegistries: settings.allowRegistries, insecureRegistries: settings.insecureRegistries });
  const ca = await Promise.all(settings.caFiles.map((f) => readConfigFile(f, 'ca-file')));
  for (const [i, pem] of ca.entries()) {
    if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
      throw new CamelOciError('CONFIG_INVALID', `--ca-file ${settings.caFiles[i]}: no PEM certificate in it`);
    }
  }
  const dockerConfigs = await Promise.all(
    settings.registryConfigs.map(async (f) => parseDockerConfig(await readConfigFile(f, 'registry-config'), f)),
  );
  const agent = createAgent({
    ca,
    lookup: settings.lookup ?? systemLookup,
    check: (host, port, addresses) => policy.checkAddresses(host, port, addresses),
    ...(settings.connector ? { connector: settings.connector } : {}),
  });
  const client = new RegistryClient({
    dispatcher: agent,
    checkUrl: (url) => policy.checkUrl(url),
    ...(settings.onResponse ? { onResponse: settings.onResponse } : {}),
  });
  return { policy, client, agent, dockerConfigs };
}

/** Builds a Resolver from settings. */
export async function createResolver(settings: ResolverSettings): Promise<{ resolver: Resolver; context: RegistryContext }> {
  const context = await createRegistryContext(settings);
  const resolver = new Resolver({
    client: context.client,
    policy: context.policy,
    dockerConfigs: context.dockerConfigs,
    platform: settings.platform,
    tagTtlMs: settings.tagTtlMs,
    staleGraceMs: settings.staleGraceMs,
    ...(settings.onCache ? { onCache: settings.onCache } : {}),
  });
  return { resolver, context };
}
