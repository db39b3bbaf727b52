/**
 * `camel-oci audit [-n NS | -A] [-o table|json] [--check-tags]`: the operator's view of what runs.
 * Exit status: 0 clean, 3 findings (EXIT_FINDINGS), 1 the audit failed (the API, the kubeconfig,
 * or a tag that could not be checked), 2 bad flags.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { asCamelOciError, CamelOciError } from '../base/errors.js';
import { loadAuditConfig, NAMESPACE_NAME } from '../config/audit.js';
import type { ParsedFlags } from '../config/flags.js';
import { createResolver } from '../resolve/setup.js';
import { closeRegistryContext } from '../registry/setup.js';
import type { ArtifactResolver } from '../resolve/types.js';
import { buildReport, exitCode, tagsToCheck, withTagChecks, type AuditReport, type TagCheck } from '../audit/report.js';
import { formatJson, formatTable } from '../audit/format.js';
import { inClusterKubeConfig, isInCluster, kubeConfigFromEnv, SERVICE_ACCOUNT_DIR, type KubeEnv } from '../kube/client.js';
import { readAuditObjects } from '../kube/audit-source.js';
import type { CommandIO } from './io.js';

/** Tags resolved at once with --check-tags: enough to overlap round trips, few enough not to hammer a registry. */
export const TAG_CHECK_CONCURRENCY = 8;

/** The KubeConfig: KUBECONFIG when set, else the pod's service account in a cluster, else ~/.kube/config. */
function kubeConfigOf(env: KubeEnv): { kubeConfig: KubeConfig; inCluster: boolean } {
  const inCluster = (env.KUBECONFIG ?? '') === '' && isInCluster(env);
  try {
    return { kubeConfig: inCluster ? inClusterKubeConfig(env) : kubeConfigFromEnv(env), inCluster };
  } catch (err) {
    const e = asCamelOciError(err);
    // client.ts words its advice for the webhook's pull secrets; the audit's user needs a kubeconfig.
    const reason = e.message.replace(/: (set KUBECONFIG to read pull secrets|the webhook's pod has no service account).*$/s, '');
    throw new CamelOciError(
      'CONFIG_INVALID',
      `camel-oci audit needs a kubeconfig (set KUBECONFIG, or run in a pod with a service account token): ${reason}`,
      { cause: err },
    );
  }
}

/** The namespace audited without -n: the kubeconfig context's, the pod's own in a cluster, else `default` (as kubectl). */
function defaultNamespace(kubeConfig: KubeConfig, inCluster: boolean): string {
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  if (context?.namespace !== undefined && context.namespace !== '') return context.namespace;
  if (inCluster) {
    const file = path.join(SERVICE_ACCOUNT_DIR, 'namespace');
    if (existsSync(file)) {
      const ns = readFileSync(file, 'utf8').trim();
      if (NAMESPACE_NAME.test(ns)) return ns;
    }
  }
  return 'default';
}

/** Resolves every tag once, at most TAG_CHECK_CONCURRENCY at a time. A failure is a result, not a rejection. */
async function checkTags(resolver: ArtifactResolver, references: readonly string[], signal: AbortSignal): Promise<TagCheck[]> {
  const out: TagCheck[] = new Array<TagCheck>(references.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < references.length) {
      const i = next++;
      const reference = references[i]!;
      try {
        const a = await resolver.resolve(reference, { signal });
        out[i] = { reference, digest: a.digest, ...(a.indexDigest !== undefined ? { index: a.indexDigest } : {}) };
      } catch (err) {
        const e = asCamelOciError(err);
        out[i] = { reference, error: { code: e.code, message: e.message } };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(TAG_CHECK_CONCURRENCY, references.length) }, worker));
  return out;
}

/** Runs `audit`; returns the exit status (flag errors are thrown as CONFIG_INVALID, which the CLI maps to 2). */
export async function runAudit(flags: ParsedFlags, io: CommandIO, env: KubeEnv): Promise<number> {
  const req = loadAuditConfig(flags);
  // Made before anything is read, so unusable registry flags are flag errors.
  const tags = req.checkTags ? await createResolver(req.resolver) : undefined;
  const signal = AbortSignal.timeout(req.timeoutMs);
  let report: AuditReport;
  try {
    const { kubeConfig, inCluster } = kubeConfigOf(env);
    const namespace = req.all ? null : (req.namespace ?? defaultNamespace(kubeConfig, inCluster));
    const objects = await readAuditObjects(kubeConfig, { namespace, requestTimeoutMs: req.requestTimeoutMs, signal });
    report = buildReport(objects, { namespace, allNamespaces: req.all });
    if (tags !== undefined) {
      const references = tagsToCheck(report);
      if (references.length > 0) report = withTagChecks(report, await checkTags(tags.resolver, references, signal));
    }
  } catch (err) {
    const e = asCamelOciError(err);
    io.stderr(`camel-oci audit: ${e.code}: ${e.message}`);
    return 1;
  } finally {
    if (tags !== undefined) await closeRegistryContext(tags.context, signal);
  }
  io.stdout(req.output === 'json' ? formatJson(report) : formatTable(report));
  return exitCode(report);
}
