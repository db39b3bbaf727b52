/**
 * The environment the kubelet gives a container: the pod spec's `env` plus the variables of
 * Services (`<NAME>_SERVICE_HOST`, docker-link `<NAME>_PORT`...), as described in the Kubernetes
 * documentation ("Discovering services: environment variables") and done by the kubelet. Written
 * from that description so tests can check what a process in the pod actually reads.
 */
import net from 'node:net';
import type { KubeObject } from './kustomize.js';

/** The API server's own Service: every pod gets its variables, whatever `enableServiceLinks` says. */
export const API_SERVER_SERVICE: KubeObject = Object.freeze({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'kubernetes', namespace: 'default' },
  spec: { type: 'ClusterIP', clusterIP: '10.96.0.1', ports: [{ name: 'https', port: 443, protocol: 'TCP' }] },
});

/** First address handed out by {@link assignClusterIPs}, in the usual default service CIDR. */
const FIRST_ASSIGNED_IP = [10, 96, 100, 1] as const;

/** `camel-oci` → `CAMEL_OCI`: upper case, dashes to underscores, as the kubelet names the variables. */
export function serviceVariablePrefix(name: string): string {
  return name.replace(/-/g, '_').toUpperCase();
}

/** True when the Service has a cluster IP (not headless, not ExternalName): only those get variables. */
function hasClusterIP(service: KubeObject): boolean {
  const ip = service.spec?.clusterIP as string | undefined;
  return ip !== undefined && ip !== '' && ip !== 'None';
}

/**
 * Copies of the Services with a cluster IP, as the API server allocates one when a ClusterIP
 * Service is created without it (rendered manifests never carry one).
 */
export function assignClusterIPs(services: readonly KubeObject[]): KubeObject[] {
  let next = FIRST_ASSIGNED_IP[3];
  return services.map((s) => {
    const copy = structuredClone(s);
    const type = (copy.spec?.type as string | undefined) ?? 'ClusterIP';
    if (copy.spec?.clusterIP === undefined && type !== 'ExternalName') {
      copy.spec = { ...copy.spec, clusterIP: `${FIRST_ASSIGNED_IP.slice(0, 3).join('.')}.${next++}` };
    }
    return copy;
  });
}

/** The variables one Service gives a pod, in the kubelet's order; none without a cluster IP. */
export function serviceVariables(service: KubeObject): Array<[name: string, value: string]> {
  if (!hasClusterIP(service)) return [];
  const prefix = serviceVariablePrefix(String(service.metadata?.name));
  const ip = String(service.spec.clusterIP);
  const ports = (service.spec.ports ?? []) as KubeObject[];
  if (ports.length === 0) throw new Error(`Service ${prefix}: a ClusterIP Service has at least one port`);
  const out: Array<[string, string]> = [
    [`${prefix}_SERVICE_HOST`, ip],
    [`${prefix}_SERVICE_PORT`, String(ports[0]!.port)],
  ];
  for (const p of ports) if (p.name) out.push([`${prefix}_SERVICE_PORT_${serviceVariablePrefix(String(p.name))}`, String(p.port)]);
  // Docker-link variables: the first port also as `<NAME>_PORT`, the one that collides with flags.
  ports.forEach((p, i) => {
    const protocol = String(p.protocol ?? 'TCP');
    const url = `${protocol.toLowerCase()}://${net.isIPv6(ip) ? `[${ip}]` : ip}:${String(p.port)}`;
    if (i === 0) out.push([`${prefix}_PORT`, url]);
    const portPrefix = `${prefix}_PORT_${String(p.port)}_${protocol.toUpperCase()}`;
    out.push(
      [portPrefix, url],
      [`${portPrefix}_PROTO`, protocol.toLowerCase()],
      [`${portPrefix}_PORT`, String(p.port)],
      [`${portPrefix}_ADDR`, ip],
    );
  });
  return out;
}

/**
 * A container's environment as the kubelet builds it: the container's own `env` first, then the
 * variables of the API server's Service and, unless `enableServiceLinks: false`, of every Service
 * in the pod's namespace; a name the container sets keeps the container's value. Throws on what
 * this simulation does not implement (envFrom, valueFrom, `$(VAR)` references), rather than
 * silently computing something else.
 */
export function kubeletEnvironment(
  podSpec: KubeObject,
  container: KubeObject,
  namespace: string,
  services: readonly KubeObject[],
): Record<string, string> {
  if (container.envFrom !== undefined) throw new Error(`${String(container.name)}: envFrom is not simulated`);
  const env: Record<string, string> = {};
  for (const e of (container.env ?? []) as KubeObject[]) {
    if (e.valueFrom !== undefined) throw new Error(`${String(e.name)}: valueFrom is not simulated`);
    const value = String(e.value ?? '');
    if (value.includes('$(')) throw new Error(`${String(e.name)}: $(VAR) references are not simulated`);
    env[String(e.name)] = value;
  }
  // enableServiceLinks defaults to true when absent.
  const linked = podSpec.enableServiceLinks === false ? [] : services.filter((s) => s.metadata?.namespace === namespace);
  for (const service of [API_SERVER_SERVICE, ...linked]) {
    for (const [name, value] of serviceVariables(service)) if (!(name in env)) env[name] = value;
  }
  return env;
}
