/**
 * Registry policy: which registries may be contacted, over which scheme, at which addresses.
 * References, token realms and redirect targets all come from users or registries, so every
 * connection is checked (the connector calls `checkAddresses` after DNS resolution).
 */
import { BlockList, isIP } from 'node:net';
import type { LookupAddress } from 'node:dns';
import { ResolveError } from '../base/errors.js';

/** Policy settings, from `--allow-registry` and `--insecure-registry`. */
export interface PolicyOptions {
  /** `host`, `host:port` or `*.example.com`; empty means any public registry. */
  readonly allowRegistries: readonly string[];
  /** Hosts (same patterns) spoken to over plain HTTP. */
  readonly insecureRegistries: readonly string[];
}

/**
 * Addresses never contacted unless the host is explicitly allowed: loopback, private (RFC 1918,
 * ULA), link-local (where cloud metadata lives: 169.254.169.254, fd00:ec2::254), CGNAT (Alibaba's
 * metadata is 100.100.100.200), unspecified, multicast, reserved, and IPv6 forms that embed them.
 */
const BLOCKED = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  BLOCKED.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
  ['2001:db8::', 32],
  ['100::', 64],
] as const)
  BLOCKED.addSubnet(net, prefix, 'ipv6');

/** IPv4 embedded in IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible, NAT64 (64:ff9b::/96) and 6to4 addresses. */
function embeddedIPv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4}):/.exec(lower);
  if (sixToFour) {
    const hi = parseInt(sixToFour[1]!, 16);
    const lo = parseInt(sixToFour[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return undefined;
}

/** True for addresses that are not public unicast (see BLOCKED). */
export function isNonPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return BLOCKED.check(address, 'ipv4');
  if (family === 6) {
    const v4 = embeddedIPv4(address);
    if (v4 !== undefined) return BLOCKED.check(v4, 'ipv4');
    return BLOCKED.check(address, 'ipv6');
  }
  return true;
}

interface HostPattern {
  readonly host: string;
  readonly port?: number;
  readonly wildcard: boolean;
}

/** Parses `host`, `host:port`, `[v6]:port` or `*.example.com[:port]`. */
export function parseHostPattern(text: string): HostPattern {
  const trimmed = text.trim().toLowerCase();
  const m = /^(\*\.)?(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(trimmed);
  if (!m || m[2]!.startsWith('.') || m[2]!.endsWith('.') || (m[3] !== undefined && Number(m[3]) > 65535)) {
    throw new ResolveError('CONFIG_INVALID', `registry pattern ${JSON.stringify(text)} is not host, host:port or *.domain`);
  }
  return {
    host: m[2]!.replace(/^\[(.*)\]$/, '$1'),
    ...(m[3] !== undefined ? { port: Number(m[3]) } : {}),
    wildcard: m[1] !== undefined,
  };
}

/** Splits `host[:port]` (IPv6 in brackets) into lower-cased host and optional port. */
export function splitHostPort(hostPort: string): { host: string; port?: number } {
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d+))?$/.exec(hostPort.toLowerCase());
  if (!m) return { host: hostPort.toLowerCase() };
  return { host: m[1]!.replace(/^\[(.*)\]$/, '$1'), ...(m[2] !== undefined ? { port: Number(m[2]) } : {}) };
}

function matches(pattern: HostPattern, host: string, port: number | undefined): boolean {
  if (pattern.port !== undefined && pattern.port !== port) return false;
  if (!pattern.wildcard) return pattern.host === host;
  // `*.example.com` matches subdomains at any depth, not example.com itself.
  return host.endsWith(`.${pattern.host}`);
}

/** The policy, parsed once. */
export class RegistryPolicy {
  private readonly allow: readonly HostPattern[];
  private readonly insecure: readonly HostPattern[];

  constructor(options: PolicyOptions) {
    this.allow = options.allowRegistries.map(parseHostPattern);
    this.insecure = options.insecureRegistries.map(parseHostPattern);
  }

  /**
   * True when the host is named exactly (no wildcard) by `--allow-registry` or `--insecure-registry`:
   * an operator who lists one registry by name has chosen it, and such registries are often
   * in-cluster, at private addresses. A wildcard never does: `*.amazonaws.com` written for ECR would
   * also cover cloud hosts' public DNS names that resolve to private addresses inside the VPC.
   */
  isExplicitlyAllowed(host: string, port?: number): boolean {
    const h = host.toLowerCase();
    return [...this.allow, ...this.insecure].some((p) => !p.wildcard && matches(p, h, port));
  }

  /** True when `--allow-registry` is given (only the registries it names are allowed). */
  get restricted(): boolean {
    return this.allow.length > 0;
  }

  /** Scheme for a registry: http only for hosts named by `--insecure-registry`. */
  schemeFor(hostPort: string): 'https' | 'http' {
    const { host, port } = splitHostPort(hostPort);
    return this.insecure.some((p) => matches(p, host, port)) ? 'http' : 'https';
  }

  /** Refuses a registry (as named in a reference, and the endpoint contacted) not on the allow-list. */
  checkRegistry(domain: string, endpoint: string, subject: string): void {
    if (this.allow.length === 0) return;
    for (const hp of [domain, endpoint]) {
      const { host, port } = splitHostPort(hp);
      if (this.allow.some((p) => matches(p, host, port))) return;
    }
    throw new ResolveError(
      'POLICY_DENIED',
      `${subject}: registry ${domain} is not allowed; the webhook admits only ${this.allow.map(fmt).join(', ')} (--allow-registry)`,
      {
        context: { registry: domain },
      },
    );
  }

  /** Refuses plain HTTP to a host not named by `--insecure-registry` (redirects, token realms). */
  checkUrl(url: URL): void {
    if (url.protocol === 'https:') return;
    if (url.protocol === 'http:' && this.schemeFor(url.host) === 'http') return;
    throw new ResolveError(
      'POLICY_DENIED',
      `refusing ${url.protocol}//${url.host}: only https is allowed unless the host is listed with --insecure-registry`,
      {
        context: { host: url.host },
      },
    );
  }

  /**
   * Refuses a connection when any resolved address is not public, unless the host is explicitly
   * allowed. All addresses are checked, not just the first, so a name cannot mix a public and a
   * metadata address.
   */
  checkAddresses(hostname: string, port: number, addresses: readonly LookupAddress[]): void {
    if (this.isExplicitlyAllowed(hostname, port)) return;
    const bad = addresses.find((a) => isNonPublicAddress(a.address));
    if (bad) {
      throw new ResolveError(
        'POLICY_DENIED',
        `refusing to connect to ${hostname} at ${bad.address}: loopback, private, link-local and metadata addresses are refused unless the registry is listed with --allow-registry`,
        {
          context: { host: hostname, address: bad.address },
        },
      );
    }
  }
}

function fmt(p: HostPattern): string {
  const host = p.host.includes(':') ? `[${p.host}]` : p.host;
  return `${p.wildcard ? '*.' : ''}${host}${p.port !== undefined ? `:${p.port}` : ''}`;
}
