/** `camel-oci fetch`: the init container's entrypoint. Runs the plan from `CAMEL_OCI_PLAN` or `--plan`. */
import { access, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { asCamelOciError, CamelOciError, FetchError } from '../base/errors.js';
import { parseCount, parseDuration, parseSize } from '../config.js';
import type { ParsedFlags } from '../config.js';
import { DEFAULT_UNPACK_LIMITS } from '../fetch/limits.js';
import { runPlan } from '../fetch/runner.js';
import { BufferReclaimer } from '../fetch/memory.js';
import { credentialFor, parseDockerConfig } from '../oci/docker-config.js';
import type { DockerConfig } from '../oci/docker-config.js';
import { parsePlan } from '../plan/plan.js';
import { parseReference } from '../oci/reference.js';
import type { FetchPlan } from '../plan/plan.js';
import { splitHostPort } from '../registry/policy.js';
import { certificatesOf, createFetchRegistryContext, readConfigFile } from '../registry/setup.js';
import type { CommandIO } from './io.js';
import { ENV_CA_PEM, MAX_CA_PEM_BYTES } from '../plan/env.js';



/** Bound on pull secret files read from the directory (a pod names at most a handful). */
const MAX_PULL_SECRET_FILES = 64;

/** Reads every docker config under the pull secrets directory; broken ones are reported and skipped. */
export async function readPullSecretsDir(dir: string, warn: (line: string) => void): Promise<DockerConfig[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const candidates: string[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('..')) continue; // the kubelet's atomic-writer bookkeeping
    const p = path.join(dir, name);
    // The projected layout is <secret name>/.dockerconfigjson (or .dockercfg); a plain config file
    // beside them is read too. A secret's name may end in .json: look, don't guess from the name.
    const info = await stat(p).catch(() => undefined);
    if (info?.isDirectory()) for (const key of ['.dockerconfigjson', '.dockercfg']) candidates.push(path.join(p, key));
    else if (info?.isFile()) candidates.push(p);
  }
  const configs: DockerConfig[] = [];
  for (const file of candidates.slice(0, MAX_PULL_SECRET_FILES)) {
    try {
      await access(file);
    } catch {
      continue;
    }
    try {
      configs.push(parseDockerConfig(await readConfigFile(file, 'pull-secrets-dir'), file));
    } catch (err) {
      warn(`skipping pull secret ${file}: ${asCamelOciError(err).message}`);
    }
  }
  return configs;
}

function loadPlan(flags: ParsedFlags, env: Readonly<Record<string, string | undefined>>): Promise<FetchPlan> | FetchPlan {
  const file = flags.values.plan as string | undefined;
  if (file !== undefined) return readConfigFile(file, 'plan').then(parsePlan);
  const text = env.CAMEL_OCI_PLAN;
  if (text === undefined || text.trim() === '') {
    throw new CamelOciError('PLAN_INVALID', 'no plan: set CAMEL_OCI_PLAN (the webhook does) or pass --plan FILE');
  }
  return parsePlan(text);
}

/**
 * The CA certificates of `--ca-pem` / `CAMEL_OCI_CA_PEM` (the webhook's `--ca-file` CAs, handed
 * over in the init container's env): bounded, well-formed certificates only.
 */
export function inlineCaCertificates(text: string): string[] {
  const source = `--ca-pem (${ENV_CA_PEM})`;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_CA_PEM_BYTES) throw new CamelOciError('CONFIG_INVALID', `${source}: ${bytes} bytes, more than the ${MAX_CA_PEM_BYTES} accepted`);
  return certificatesOf(text, source);
}

/** Runs `fetch`; returns the exit code. */
export async function runFetch(flags: ParsedFlags, io: CommandIO, env: Readonly<Record<string, string | undefined>>): Promise<number> {
  const v = flags.values;
  const timeoutMs = parseDuration(v.timeout as string, 'timeout');
  const deadline = Date.now() + timeoutMs;
  const signal = AbortSignal.timeout(timeoutMs);
  const log = (obj: Record<string, unknown>): void => io.stdout(JSON.stringify({ time: new Date().toISOString(), ...obj }));
  try {
    const plan = await loadPlan(flags, env);
    const root = path.resolve(v.root as string);
    // The volume exists in a pod; on a workstation, make the root as `mkdir -p` would.
    await mkdir(root, { recursive: true, mode: 0o755 }).catch((err: NodeJS.ErrnoException) => {
      throw new FetchError('IO_ERROR', `cannot create --root ${root}: ${err.code ?? err.message}`);
    });
    const limits = {
      ...DEFAULT_UNPACK_LIMITS,
      maxUnpackedBytes: parseSize(v['max-unpacked-bytes'] as string, 'max-unpacked-bytes'),
      maxFiles: parseCount(v['max-files'] as string, 'max-files'),
      maxLayerBytes: parseSize(v['max-layer-bytes'] as string, 'max-layer-bytes'),
    };
    const caPem = v['ca-pem'] as string | undefined;
    const caPems = caPem === undefined ? [] : inlineCaCertificates(caPem);
    const pullSecrets = await readPullSecretsDir(v['pull-secrets-dir'] as string, (line) => log({ event: 'warning', message: line }));
    // Policy, as the webhook's: the webhook hands its --allow-registry and --insecure-registry to the
    // init container (CAMEL_OCI_ALLOW_REGISTRY, CAMEL_OCI_INSECURE_REGISTRY). A plan artifact the
    // webhook fetched over http names a registry the webhook's operator listed exactly as insecure:
    // it is treated so here too (plain HTTP, and allowed at a private address, as in the webhook).
    // Every other registry, token realm and blob redirect meets the address check after DNS
    // resolution, so a name that resolved to a public address at admission cannot be pointed at a
    // metadata or private address by the time the fetcher runs.
    const insecure = [...(v['insecure-registry'] as string[]), ...plan.artifacts.filter((a) => a.scheme === 'http').map((a) => exactHost(a.registry))];
    const allow = v['allow-registry'] as string[];
    const context = await createFetchRegistryContext({
      registryConfigs: v['registry-config'] as string[],
      insecureRegistries: insecure,
      allowRegistries: allow,
      caFiles: v['ca-file'] as string[],
      caPems,
    });
    for (const a of plan.artifacts) {
      if (a.scheme === 'http') continue;
      // The allow-list may name the registry as the reference does (docker.io) or as contacted.
      context.policy.checkRegistry(domainOf(a.reference, a.registry), a.registry, `container:${a.reference}`);
    }
    const configs = [...pullSecrets, ...context.dockerConfigs];
    try {
      const summary = await runPlan(plan, {
        root,
        client: context.client,
        credentialFor: (registry, repository) => credentialFor(configs, registry, repository),
        limits,
        parallel: parseCount(v.parallel as string, 'parallel', 32),
        signal,
        deadline,
        onLayer: (report) => log({ ...report }),
        reclaimer: new BufferReclaimer(),
      });
      log({ ...summary });
      return 0;
    } finally {
      context.close();
    }
  } catch (err) {
    const e = signal.aborted && !(err instanceof CamelOciError && err.code === 'TIMEOUT')
      ? new CamelOciError('TIMEOUT', `camel-oci fetch did not finish within ${Math.round(timeoutMs / 1000)} s (--timeout): ${asCamelOciError(err).message}`)
      : asCamelOciError(err);
    const message = `camel-oci fetch failed: ${e.code}: ${e.message}`;
    log({ event: 'error', code: e.code, message: e.message });
    io.stderr(message);
    await writeTerminationLog(v['termination-log'] as string, message);
    return 1;
  }
}

/** The registry domain a plan reference names, else the host contacted. */
function domainOf(reference: string, registry: string): string {
  try {
    return parseReference(reference).domain;
  } catch {
    return registry;
  }
}

/** `host:port` as an allow-list entry that matches only that host and port. */
function exactHost(hostPort: string): string {
  const { host, port } = splitHostPort(hostPort);
  const h = host.includes(':') ? `[${host}]` : host;
  return port !== undefined ? `${h}:${port}` : h;
}

/** Writes the failure where the kubelet reads the termination message, when that file exists. */
async function writeTerminationLog(file: string, message: string): Promise<void> {
  try {
    await access(file);
    await writeFile(file, message.slice(0, 4000));
  } catch {
    // Outside a pod there is no termination log; stderr has the message.
  }
}
