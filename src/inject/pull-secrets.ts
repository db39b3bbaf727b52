/**
 * Which of a pod's image pull secrets camel-oci uses: one rule, one cap, for the webhook's reads
 * from the Kubernetes API (kube/pull-secrets.ts), the credentials the resolver tries, and the
 * secrets projected into the init container (inject/fetcher.ts). Pure.
 */
import { asRecord } from '../base/json.js';

/**
 * Most pull secrets used for one pod. Real pods list one or two; each is an apiserver read on the
 * admission path and a Secret the kubelet reads for the projected volume.
 */
export const MAX_POD_PULL_SECRETS = 32;

const DNS1123_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/;

/** True for a valid Secret or ServiceAccount name (DNS-1123 subdomain); anything else cannot name one and is never requested. */
export function isObjectName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= 253 && DNS1123_SUBDOMAIN.test(name);
}

/** True for a valid namespace name (DNS-1123 label). */
export function isNamespaceName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= 63 && DNS1123_LABEL.test(name);
}

/** What {@link referenceNames} skipped: an entry that names no Secret, or the entries past the limit. */
export type SkippedReference = { readonly invalid: unknown } | { readonly overLimit: number };

/**
 * Names of a `[{name}]` list (LocalObjectReference): valid ones only, first occurrence kept, in
 * order, at most `limit` (the list comes from user input of up to megabytes: linear time, early
 * stop). `onSkip` hears of each invalid entry and, once, of the limit being reached.
 */
export function referenceNames(list: unknown, limit = MAX_POD_PULL_SECRETS, onSkip?: (skipped: SkippedReference) => void): string[] {
  if (!Array.isArray(list)) return [];
  const names = new Set<string>();
  for (const ref of list) {
    const name = asRecord(ref)?.name;
    if (!isObjectName(name)) {
      onSkip?.({ invalid: name });
      continue;
    }
    if (names.has(name)) continue;
    if (names.size >= limit) {
      onSkip?.({ overLimit: limit });
      break;
    }
    names.add(name);
  }
  return [...names];
}

/** The pod's own pull secret names (`spec.imagePullSecrets`), valid and deduplicated, at most `limit`. */
export function podPullSecretNames(pod: unknown, limit = MAX_POD_PULL_SECRETS, onSkip?: (skipped: SkippedReference) => void): string[] {
  return referenceNames(asRecord(asRecord(pod)?.spec)?.imagePullSecrets, limit, onSkip);
}
