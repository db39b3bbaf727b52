/**
 * Service meshes: the init container fetches from registries before any sidecar proxy runs, but a
 * mesh that redirects the pod's traffic (Istio's istio-init or CNI plugin, Linkerd's proxy-init or
 * CNI plugin) sends that egress to a proxy that is not there yet, and the fetch hangs. Both meshes
 * document a pod annotation that leaves outbound ports out of the redirection; injection adds the
 * registry ports to it. Pure.
 *
 * Why the annotation and not Istio's other documented way, running the init container as the
 * proxy's UID 1337: the fetcher's UID follows the pod's (it must write files the integration
 * reads, and OpenShift-style UID ranges refuse a fixed UID), and the annotation changes no
 * securityContext, so the pod keeps the restricted Pod Security level.
 *
 * Why whenever the pod does not opt out of the mesh, not only when it shows mesh markers: the
 * markers (`sidecar.istio.io/status`, the `security.istio.io/tlsMode` label, `linkerd.io/proxy-version`)
 * are written by the mesh's own injector, which usually runs after this webhook (webhooks are
 * called in name order) and reads the pod's annotations when it builds its init container; and
 * whether the namespace injects is not visible in the pod. A mesh that is absent ignores them.
 */
import type { FetchPlan } from '../plan/plan.js';
import { own, type JsonObject } from './pod.js';

/** Istio: outbound ports left out of the sidecar's traffic redirection (comma-separated). */
export const ISTIO_EXCLUDE_OUTBOUND_PORTS = 'traffic.sidecar.istio.io/excludeOutboundPorts';
/** Linkerd: outbound ports that skip the proxy (comma-separated ports or ranges). */
export const LINKERD_SKIP_OUTBOUND_PORTS = 'config.linkerd.io/skip-outbound-ports';
/** Istio's per-pod opt-out of sidecar injection (label, or the older annotation), value `"false"`. */
export const ISTIO_INJECT = 'sidecar.istio.io/inject';
/** Linkerd's per-pod injection annotation; `disabled` opts out. */
export const LINKERD_INJECT = 'linkerd.io/inject';

/** Port of a registry named without one: what the fetcher connects to. */
const DEFAULT_PORTS = { https: 443, http: 80 } as const;
/**
 * Always excluded: token realms and blob redirects (object storage, CDNs) are other hosts on 443,
 * which the plan does not name.
 */
const ALWAYS_EXCLUDED_PORT = 443;
/** Longest annotation value this writes or extends: a comma list of ports stays far below it. */
const MAX_PORT_LIST_CHARS = 4096;

/** The port the fetcher connects to for `registry` (host[:port]) under `scheme`. */
function portOf(registry: string, scheme: 'https' | 'http'): number {
  // The plan validator checked `registry` is host[:port]; a bracketed IPv6 host has colons inside the brackets.
  const m = /:(\d{1,5})$/.exec(registry.replace(/^\[[^\]]*\]/, ''));
  return m ? Number(m[1]) : DEFAULT_PORTS[scheme];
}

/**
 * The outbound ports the fetcher needs: 443, then the port of each planned registry and of each of
 * its mirrors (which it asks first), ascending.
 */
export function registryPorts(plan: FetchPlan): number[] {
  const ports = new Set<number>([ALWAYS_EXCLUDED_PORT]);
  for (const a of plan.artifacts) {
    ports.add(portOf(a.registry, a.scheme));
    for (const m of a.mirrors ?? []) ports.add(portOf(m.registry, m.scheme));
  }
  return [...ports].sort((x, y) => x - y);
}

/**
 * The mesh annotations to set on a pod (or template) whose init container fetches through
 * `ports`: each mesh the pod does not opt out of gets its annotation, the pod's own list kept and
 * the missing ports appended. An annotation that already lists every port is left out.
 */
export function meshAnnotations(
  labels: JsonObject | undefined,
  annotations: JsonObject | undefined,
  ports: readonly number[],
): Record<string, string> {
  const out: Record<string, string> = {};
  const istioOptOut = [labels, annotations].some((m) => m !== undefined && String(own(m, ISTIO_INJECT)).trim().toLowerCase() === 'false');
  const linkerdOptOut = annotations !== undefined && String(own(annotations, LINKERD_INJECT)).trim().toLowerCase() === 'disabled';
  if (!istioOptOut) addPorts(out, annotations, ISTIO_EXCLUDE_OUTBOUND_PORTS, ports);
  if (!linkerdOptOut) addPorts(out, annotations, LINKERD_SKIP_OUTBOUND_PORTS, ports);
  return out;
}

/** Sets `out[key]` to the pod's list plus the ports it lacks, unless it lacks none. */
function addPorts(out: Record<string, string>, annotations: JsonObject | undefined, key: string, ports: readonly number[]): void {
  const raw = annotations === undefined ? undefined : own(annotations, key);
  const existing =
    typeof raw === 'string'
      ? raw
          .split(',')
          .map((p) => p.trim())
          .filter((p) => p.length > 0)
      : [];
  const missing = ports.filter((p) => !existing.some((e) => covers(e, p)));
  if (missing.length === 0) return;
  const value = [...existing, ...missing.map(String)].join(',');
  // A pod whose own list is absurdly long is left as it is rather than made longer.
  if (value.length <= MAX_PORT_LIST_CHARS) out[key] = value;
}

/** Whether one entry of a port list (`443`, or Linkerd's `4000-4100`) covers `port`. */
function covers(entry: string, port: number): boolean {
  const range = /^(\d{1,5})-(\d{1,5})$/.exec(entry);
  if (range) return Number(range[1]) <= port && port <= Number(range[2]);
  return /^\d{1,5}$/.test(entry) && Number(entry) === port;
}
