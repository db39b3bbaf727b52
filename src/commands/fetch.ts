/** `camel-oci fetch`: the init container's entrypoint. Runs the plan from `CAMEL_OCI_PLAN` or `--plan`. */
import { access, writeFile } from '../base/fs.js';
import { makeDirectories } from '../base/dirs.js';
import { formatSeconds } from '../base/abort.js';
import { asCamelOciError, CamelOciError, exitStatusOf } from '../base/errors.js';
import { loadFetchConfig, loadFetchRunConfig } from '../config/fetch.js';
import type { FetchConfig } from '../config/fetch.js';
import type { ParsedFlags } from '../config/flags.js';
import { readPullSecretsDir } from '../fetch/pull-secrets-dir.js';
import { runPlan } from '../fetch/runner.js';
import { BufferReclaimer } from '../fetch/memory.js';
import { artifactSources } from '../fetch/sources.js';
import type { FetchSource } from '../fetch/sources.js';
import { credentialFor } from '../oci/docker-config.js';
import { parsePlan } from '../plan/plan.js';
import { parseReference } from '../oci/reference.js';
import type { FetchPlan, PlanArtifact } from '../plan/plan.js';
import type { RegistryPolicy } from '../registry/policy.js';
import type { LookupAll } from '../registry/transport.js';
import type { SocketOpener } from '../registry/node-transport.js';
import { createFetchRegistryContext, readConfigFile } from '../registry/setup.js';
import type { CommandIO } from './io.js';

function loadPlan(config: FetchConfig): Promise<FetchPlan> | FetchPlan {
  const file = config.planFile;
  if (file !== undefined) return readConfigFile(file, 'plan').then(parsePlan);
  const text = config.planText;
  if (text === undefined || text.trim() === '') {
    throw new CamelOciError('PLAN_INVALID', 'no plan: set CAMEL_OCI_PLAN (the webhook does) or pass --plan FILE');
  }
  return parsePlan(text);
}

/** What tests inject into `fetch`: DNS and the socket opener, so no test resolves or reaches a real host. */
export interface FetchDeps {
  readonly lookup?: LookupAll;
  readonly openSocket?: SocketOpener;
}

/** Runs `fetch`; returns the exit code. */
export async function runFetch(
  flags: ParsedFlags,
  io: CommandIO,
  env: Readonly<Record<string, string | undefined>>,
  deps: FetchDeps = {},
): Promise<number> {
  const { timeoutMs, terminationLog } = loadFetchRunConfig(flags);
  const deadline = Date.now() + timeoutMs;
  const signal = AbortSignal.timeout(timeoutMs);
  const log = (obj: Record<string, unknown>): void => io.stdout(JSON.stringify({ time: new Date().toISOString(), ...obj }));
  try {
    const config = loadFetchConfig(flags, env);
    const plan = await loadPlan(config);
    const root = config.root;
    // Policy, as the webhook's: the webhook hands its --allow-registry and --insecure-registry to the
    // init container (CAMEL_OCI_ALLOW_REGISTRY, CAMEL_OCI_INSECURE_REGISTRY) and the fetcher applies
    // them again, in full: no plan field widens them. A plan artifact may ask for plain HTTP only
    // where this policy says http; every registry, token realm and blob redirect meets the address
    // check after DNS resolution, so a name that resolved to a public address at admission cannot be
    // pointed at a metadata or private address by the time the fetcher runs.
    // The three steps are independent: at once, they cost the start of a small fetch one wait, not three.
    const contextMade = createFetchRegistryContext({
      ...config.registry,
      caPems: config.caPems,
      ...(deps.lookup ? { lookup: deps.lookup } : {}),
      ...(deps.openSocket ? { openSocket: deps.openSocket } : {}),
    });
    let pullSecrets: Awaited<ReturnType<typeof readPullSecretsDir>>;
    try {
      [, pullSecrets] = await Promise.all([
        // The volume exists in a pod; on a workstation, make the root as `mkdir -p` would.
        makeDirectories(root, { what: '--root', mode: 0o755, signal }),
        readPullSecretsDir(config.pullSecretsDir, (line) => log({ event: 'warning', message: line })),
        contextMade,
      ]);
    } catch (err) {
      await contextMade.then(
        (made) => made.close(),
        () => undefined,
      );
      throw err;
    }
    const context = await contextMade;
    const configs = [...pullSecrets, ...context.dockerConfigs];
    const credentials = (registry: string, repository: string) => credentialFor(configs, registry, repository);
    // Mirrors (the plan's, then this fetcher's own --registry-mirror for the registry) meet the same
    // policy before any connection; each is read with the credential matched by its own host.
    let sources: Map<PlanArtifact, readonly FetchSource[]>;
    try {
      checkPlanPolicy(plan, context.policy);
      sources = new Map(plan.artifacts.map((a) => [a, artifactSources(a, context.policy, config.registry.mirrors, credentials)]));
    } catch (err) {
      context.close();
      throw err;
    }
    try {
      const summary = await runPlan(plan, {
        root,
        client: context.client,
        credentialFor: credentials,
        sources: (artifact) => sources.get(artifact)!,
        onSourceFailure: (f, subject) =>
          log({
            event: 'warning',
            source: f.source.registry,
            mirror: f.source.mirror,
            code: f.error.code,
            message: `${subject}: ${f.source.registry} failed, trying the next source: ${f.error.message}`,
          }),
        limits: config.limits,
        parallel: config.parallel,
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
    const e =
      signal.aborted && !(err instanceof CamelOciError && err.code === 'TIMEOUT')
        ? new CamelOciError(
            'TIMEOUT',
            `camel-oci fetch did not finish within ${formatSeconds(timeoutMs)} (--timeout): ${asCamelOciError(err).message}`,
          )
        : asCamelOciError(err);
    const message = `camel-oci fetch failed: ${e.code}: ${e.message}`;
    log({ event: 'error', code: e.code, message: e.message });
    io.stderr(message);
    await writeTerminationLog(terminationLog, message);
    // Logged like any failure first; a flag or variable that cannot be used is still bad usage.
    return exitStatusOf(e);
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

/**
 * Refuses, before any connection, a plan artifact the fetcher's own policy does not allow: a
 * registry off the allow-list, or plain HTTP to a registry not named by --insecure-registry.
 */
function checkPlanPolicy(plan: FetchPlan, policy: RegistryPolicy): void {
  for (const a of plan.artifacts) {
    const subject = `container:${a.reference}`;
    // The allow-list may name the registry as the reference does (docker.io) or as contacted.
    policy.checkRegistry(domainOf(a.reference, a.registry), a.registry, subject);
    if (a.scheme === 'http' && policy.schemeFor(a.registry) !== 'http') {
      throw new CamelOciError(
        'POLICY_DENIED',
        `${subject}: the plan asks for plain HTTP to ${a.registry}, which is not listed with --insecure-registry (CAMEL_OCI_INSECURE_REGISTRY)`,
        {
          context: { registry: a.registry },
        },
      );
    }
  }
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
