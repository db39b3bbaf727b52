/**
 * Which container is the integration: the rule of docs/architecture.md ("Layout of the shared volume"), in order, never Knative's queue-proxy
 * while another container exists. Pure.
 */
import { ANNOTATION_DEFAULT_CONTAINER, ENV_CAMEL_K_INTEGRATION, KNATIVE_QUEUE_PROXY } from './annotations.js';
import { findClasspathArgument } from './classpath.js';
import { annotation, isRecord, own, type ContainerView, type JsonObject } from './pod.js';

/** Which rule picked the integration container. */
export type SelectionRule = 'default-container-annotation' | 'camel-k-env' | 'classpath-argument' | 'first-container';

/** The chosen container: its index in `spec.containers`, its name, and why. */
export interface ContainerChoice {
  readonly index: number;
  readonly name: string;
  readonly rule: SelectionRule;
}

function hasEnv(c: JsonObject, name: string): boolean {
  const env = own(c, 'env');
  return Array.isArray(env) && env.some((e) => isRecord(e) && own(e, 'name') === name);
}

/**
 * Picks the integration container, in order: the one named by annotation
 * `kubectl.kubernetes.io/default-container`; one with env `CAMEL_K_INTEGRATION`; one with a
 * `-cp` argument; else the first container. queue-proxy is passed over by every rule and is chosen
 * only when it is the sole container. Work is linear in the pod's size.
 */
export function selectIntegrationContainer(containers: readonly ContainerView[], annotations: JsonObject | undefined): ContainerChoice {
  const candidates = containers.map((c, index) => ({ c, index })).filter(({ c }) => c.name !== KNATIVE_QUEUE_PROXY);
  const pick = (found: { c: ContainerView; index: number } | undefined, rule: SelectionRule): ContainerChoice | undefined =>
    found === undefined ? undefined : { index: found.index, name: found.c.name, rule };
  const named = annotation(annotations, ANNOTATION_DEFAULT_CONTAINER);
  return (
    pick(named === undefined ? undefined : candidates.find(({ c }) => c.name === named), 'default-container-annotation') ??
    pick(
      candidates.find(({ c }) => hasEnv(c.raw, ENV_CAMEL_K_INTEGRATION)),
      'camel-k-env',
    ) ??
    pick(
      candidates.find(({ c }) => findClasspathArgument(c.raw) !== undefined),
      'classpath-argument',
    ) ??
    pick(candidates[0], 'first-container') ??
      // Only queue-proxy is left: a pod that is not Knative's and happens to use the name.
      { index: 0, name: (containers[0] as ContainerView).name, rule: 'first-container' }
  );
}
