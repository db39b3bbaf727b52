/**
 * `--registry-mirror UPSTREAM=MIRROR[,MIRROR...]`: which mirrors stand in front of which registry,
 * as containerd's `hosts.toml` lists them. Pure: the mirrors' addresses are checked against the
 * registry policy when they are contacted, exactly like registries.
 */
import { CamelOciError } from '../base/errors.js';
import { isHostPort, MAX_PLAN_MIRRORS } from '../plan/plan.js';

/** Bound on mirrors per upstream: as many as a plan may carry to the fetcher. */
export const MAX_MIRRORS_PER_REGISTRY = MAX_PLAN_MIRRORS;

/** Mirrors by upstream host[:port], each list in the order they are tried (before the upstream itself). */
export type RegistryMirrors = ReadonlyMap<string, readonly string[]>;

function invalid(message: string): CamelOciError {
  return new CamelOciError('CONFIG_INVALID', `--registry-mirror: ${message}`);
}

function hostPort(text: string, what: string): string {
  const port = /:(\d+)$/.exec(text)?.[1];
  if (!isHostPort(text) || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
    throw invalid(`${what} ${JSON.stringify(text)} is not a host[:port] (no scheme, path or credentials)`);
  }
  // Host names compare case-insensitively, as the resolver's registry names do.
  return text.toLowerCase();
}

/**
 * Reads the flag's values. The list parser has already split them at commas, so an item without
 * `=` continues the mirror list of the upstream before it: `docker.io=m1,m2` and
 * `--registry-mirror docker.io=m1 --registry-mirror docker.io=m2` mean the same. An upstream named
 * twice keeps one list, in the order given, without duplicates.
 */
export function parseRegistryMirrors(items: readonly string[]): RegistryMirrors {
  const out = new Map<string, string[]>();
  let current: string[] | undefined;
  for (const item of items) {
    const eq = item.indexOf('=');
    let mirror: string;
    if (eq >= 0) {
      const upstream = hostPort(item.slice(0, eq).trim(), 'upstream');
      current = out.get(upstream) ?? [];
      out.set(upstream, current);
      mirror = item.slice(eq + 1).trim();
    } else {
      if (current === undefined) throw invalid(`${JSON.stringify(item)} has no UPSTREAM= before it (use UPSTREAM=MIRROR[,MIRROR...])`);
      mirror = item.trim();
    }
    const host = hostPort(mirror, 'mirror');
    if (!current.includes(host)) current.push(host);
    if (current.length > MAX_MIRRORS_PER_REGISTRY) throw invalid(`more than ${MAX_MIRRORS_PER_REGISTRY} mirrors for one registry`);
  }
  for (const [upstream, mirrors] of out) {
    if (mirrors.includes(upstream)) throw invalid(`${upstream} is listed as its own mirror`);
  }
  return out;
}
