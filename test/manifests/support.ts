/**
 * Shared set-up of the manifest tests: a temporary copy of the repository's manifests/ beside a
 * certs/ directory written by the real `camel-oci certs`, laid out as a user has them, and schema
 * validation of rendered objects with kubernetes-models.
 */
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1/MutatingWebhookConfiguration';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { certsCommand } from '../../src/certs/command.js';
import type { CertsCommandResult } from '../../src/certs/command.js';
import { REPO_ROOT } from '../helpers/fixtures.js';
import type { KubeObject } from './kustomize.js';

/** The repository's manifests/ directory. */
export const MANIFESTS_DIR = path.join(REPO_ROOT, 'manifests');

/** A temporary install tree: `<root>/manifests` (a copy) and `<root>/certs` (from `camel-oci certs`). */
export interface InstallTree {
  readonly root: string;
  readonly manifests: string;
  readonly certs: string;
  /** What `camel-oci certs` did; absent when the tree was made without certificates. */
  readonly certsResult?: CertsCommandResult;
  /** Removes the tree. */
  cleanup(): Promise<void>;
}

/** Copies manifests/ to a temporary directory and runs the real certs command beside it, as the README says. */
export async function installTree(options: { withCerts?: boolean } = {}): Promise<InstallTree> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-manifests-'));
  const manifests = path.join(root, 'manifests');
  await cp(MANIFESTS_DIR, manifests, { recursive: true });
  const certs = path.join(root, 'certs');
  const cleanup = (): Promise<void> => rm(root, { recursive: true, force: true });
  if (options.withCerts === false) return { root, manifests, certs, cleanup };
  const certsResult = await certsCommand({ out: certs }, { log: () => undefined });
  return { root, manifests, certs, certsResult, cleanup };
}

/** A copy of a tree, certificates included (cheaper than generating keys again). */
export async function cloneTree(tree: InstallTree): Promise<InstallTree> {
  const root = await mkdtemp(path.join(os.tmpdir(), 'camel-oci-manifests-'));
  await cp(tree.root, root, { recursive: true });
  return {
    root,
    manifests: path.join(root, 'manifests'),
    certs: path.join(root, 'certs'),
    ...(tree.certsResult !== undefined ? { certsResult: tree.certsResult } : {}),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

/** The kubernetes-models class of each kind the manifests may contain, by `apiVersion/kind`. */
// `any`: each class types its own data; whether the rendered object fits is what validate() checks.
const MODELS: Readonly<Record<string, new (data: any) => { validate(): void }>> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'v1/Secret': Secret,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
};

/**
 * Validates an object against its Kubernetes schema (kubernetes-models 4.x). Returns the error
 * message, or undefined when valid. A kind without a model is an error: every rendered kind must be
 * checked.
 */
export function kubeSchemaError(o: KubeObject): string | undefined {
  const Model = MODELS[`${String(o.apiVersion)}/${String(o.kind)}`];
  if (Model === undefined) return `no schema model for ${String(o.apiVersion)} ${String(o.kind)}`;
  try {
    new Model(o).validate();
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** The one object of a kind (and name, if given); throws when there is not exactly one. */
export function only(objects: readonly KubeObject[], kind: string, name?: string): KubeObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata?.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` ${name}` : ''}, found ${found.length}`);
  return found[0]!;
}
