/**
 * Registry policy: which registries may be contacted, over which scheme, at which addresses.
 * References, token realms and redirect targets all come from users or registries, so every
 * connection is checked (the connector calls `checkAddresses` after DNS resolution).
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { LookupAddress } from 'node:dns';
import { ResolveError } from '../base/errors.js';
import { connectTarget } from './transport.js';

/** Policy settings, from `--allow-registry` and `--insecure-registry`. */
export interface PolicyOptions {
  /** `host`, `host:port` or `*.example.com`; empty means any public registry. */
  readonly allowRegistries: readonly string[];
  /** Hosts (same patterns) spoken to over plain HTTP. */
  readonly insecureRegistries: readonly string[];
}

/**
 * Special-purpose ranges, as ipaddr.js names them (its `range()`), kept from the IANA IPv4 and IPv6
 * Special-Purpose Address Registries. Only `unicast` is public: every other range (loopback,
 * private and unique-local, link-local where cloud metadata lives — 169.254.169.254,
 * fd00:ec2::254 —, carrier-grade NAT where Alibaba's metadata is, unspecified, broadcast,
 * multicast, reserved, documentation, Teredo) is refused unless the host is explicitly allowed.
 */
const PUBLIC_RANGE = 'unicast';

/**
 * Registry entries the installed ipaddr.js (1.x) does not name yet, checked before it: benchmarking
 * (RFC 2544), the deprecated IPv4-compatible (::a.b.c.d, RFC 4291 2.5.5.1) and site-local
 * (fec0::/10) forms, discard-only (RFC 6666) and local-use NAT64 (RFC 8215).
 */
const EXTRA_V4_RANGES: ReadonlyArray<readonly [string, string]> = [['benchmarking', '198.18.0.0/15']];
const EXTRA_V6_RANGES: ReadonlyArray<readonly [string, string]> = [
  ['ipv4Compatible', '::/96'],
  ['siteLocal', 'fec0::/10'],
  ['discard', '100::/64'],
  ['nat64Local', '64:ff9b:1::/48'],
];
const EXTRA_V4 = EXTRA_V4_RANGES.map(([name, cidr]) => [name, ipaddr.IPv4.parseCIDR(cidr)] as const);
const EXTRA_V6 = EXTRA_V6_RANGES.map(([name, cidr]) => [name, ipaddr.IPv6.parseCIDR(cidr)] as const);

/** IPv6 ranges whose last 32 bits are an IPv4 address the packet ends up at: classed by that address. */
const EMBEDS_V4_LOW32: ReadonlySet<string> = new Set(['ipv4Mapped', 'rfc6145', 'rfc6052', 'ipv4Compatible']);

/** How an address is classed: its range name and, for IPv6 forms that carry one, the embedded IPv4. */
export interface AddressClass {
  /** ipaddr.js range name (`unicast`, `loopback`, `private`, `linkLocal`...), or `invalid`. */
  readonly range: string;
  /** The embedded IPv4 address that decided the class, when there is one. */
  readonly embedded?: string;
}

function classifyV4(v4: ipaddr.IPv4): string {
  for (const [name, cidr] of EXTRA_V4) if (v4.match(cidr)) return name;
  return v4.range();
}

/**
 * Classes an address literal by the special-purpose ranges. IPv6 forms that embed an IPv4 address
 * (mapped ::ffff:a.b.c.d, translated ::ffff:0:a.b.c.d, compatible ::a.b.c.d, NAT64 64:ff9b::/96,
 * 6to4 2002::/16) are classed by the IPv4 address, so ::ffff:169.254.169.254 is link-local.
 */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  try {
    if (family === 4) return { range: classifyV4(ipaddr.IPv4.parse(address)) };
    if (family !== 6) return { range: 'invalid' };
    // The WHATWG URL host parser writes every IPv6 form in canonical hex (ipaddr.js 1.x cannot parse
    // `::a.b.c.d`); a zone (`%eth0`) only occurs with link-local addresses and is not part of the address.
    const canonical = new URL(`http://[${address.replace(/%.*$/, '')}]/`).hostname.slice(1, -1);
    const v6 = ipaddr.IPv6.parse(canonical);
    let range: string = v6.range();
    for (const [name, cidr] of EXTRA_V6) {
      if (range === PUBLIC_RANGE && v6.match(cidr)) range = name;
    }
    const p = v6.parts;
    let embedded: ipaddr.IPv4 | undefined;
    if (EMBEDS_V4_LOW32.has(range)) embedded = ipaddr.fromByteArray([p[6]! >> 8, p[6]! & 255, p[7]! >> 8, p[7]! & 255]) as ipaddr.IPv4;
    else if (range === '6to4') embedded = ipaddr.fromByteArray([p[1]! >> 8, p[1]! & 255, p[2]! >> 8, p[2]! & 255]) as ipaddr.IPv4;
    if (embedded !== undefined) return { range: classifyV4(embedded), embedded: embedded.toString() };
    return { range };
  } catch {
    return { range: 'invalid' };
  }
}

/** True for addresses that are not public unicast (see {@link classifyAddress}); fails closed on anything unparsable. */
export function isNonPublicAddress(address: string): boolean {
  return classifyAddress(address).range !== PUBLIC_RANGE;
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
   * Refuses a token realm named by the challenge of `registry` (the URL that answered 401); returns
   * whether the token request may skip the address check. A realm elsewhere is any other host:
   * {@link checkUrl} here, the address check when connecting. A realm on the registry's own host
   * (another port: distribution's token server beside the registry) is that registry's own service
   * and stands as it does: in plain HTTP when the registry is `--insecure-registry` (exactly, as
   * {@link schemeFor} reads it), never when the registry is HTTPS (the credentials would leave TLS);
   * and at a non-public address when the registry is named exactly. The exemption is that one
   * request's (`TransportRequest.addressExempt`), on a connection of its own: a reference, a
   * redirect or another registry's realm naming the same port is checked as before.
   */
  checkRealm(realm: URL, registry: URL): boolean {
    const target = connectTarget(registry);
    const sameHost = connectTarget(realm).hostname === target.hostname;
    const plainRegistry = registry.protocol === 'http:' && this.schemeFor(registry.host) === 'http';
    if (!(sameHost && realm.protocol === 'http:' && plainRegistry)) this.checkUrl(realm);
    return sameHost && this.isExplicitlyAllowed(target.hostname, target.port);
  }

  /**
   * Refuses a connection when any resolved address is not public, unless the host is explicitly
   * allowed, or `exempt` (a token request whose realm stands as its registry, see
   * {@link checkRealm}). All addresses are checked, not just the first, so a name cannot mix a
   * public and a metadata address.
   */
  checkAddresses(hostname: string, port: number, addresses: readonly LookupAddress[], exempt = false): void {
    if (exempt || this.isExplicitlyAllowed(hostname, port)) return;
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
