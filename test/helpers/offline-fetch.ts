/**
 * `camel-oci fetch` on a network that goes nowhere: every name "resolves" to one chosen address
 * and the socket opener records the connect it would make and opens none, so a test of a refused
 * private or metadata address cannot send a packet there even when the code under test is wrong.
 */
import type { LookupAddress } from 'node:dns';
import { Socket } from 'node:net';
import path from 'node:path';
import { runFetch } from '../../src/commands/fetch.js';
import { parseFlags } from '../../src/config/flags.js';
import { FETCH_FLAGS } from '../../src/config/tables.js';
import type { FetchPlan } from '../../src/plan/plan.js';
import type { SocketOpener } from '../../src/registry/node-transport.js';

/** The injected DNS and socket opener, with what they were asked. */
export interface FakeNetwork {
  readonly lookups: string[];
  readonly connects: string[];
  readonly lookup: (hostname: string) => Promise<LookupAddress[]>;
  readonly openSocket: SocketOpener;
}

/** A network where every name resolves to `address`, and an opener that records connects and opens none. */
export function fakeNetwork(address: string): FakeNetwork {
  const lookups: string[] = [];
  const connects: string[] = [];
  return {
    lookups,
    connects,
    lookup: async (hostname) => {
      lookups.push(hostname);
      return [{ address, family: address.includes(':') ? 6 : 4 }];
    },
    // As net.connect does: resolve through the (policy-checking) lookup, then connect to what it gave.
    openSocket: (options) => {
      const socket = new Socket();
      const lookup = options.lookup as unknown as (
        h: string,
        o: { all: boolean },
        cb: (err: Error | null, a: LookupAddress[]) => void,
      ) => void;
      lookup(String(options.host), { all: true }, (err, addresses) => {
        if (err) {
          socket.destroy(err);
          return;
        }
        connects.push(...addresses.map((a) => `${a.address}:${String(options.port)}`));
        socket.destroy(new Error('the test network connects nowhere'));
      });
      return socket;
    },
  };
}

/** Runs `fetch`'s command function on `plan` (env `CAMEL_OCI_PLAN`) with its volume under `base`, on `net`. */
export async function fetchOffline(
  plan: FetchPlan,
  args: readonly string[],
  net: FakeNetwork,
  base: string,
): Promise<{ code: number; stderr: string }> {
  const env = { CAMEL_OCI_PLAN: JSON.stringify(plan) };
  const argv = [
    ...['--root', path.join(base, 'root'), '--pull-secrets-dir', path.join(base, 'none')],
    ...['--termination-log', path.join(base, 'none-log'), '--timeout', '10s'],
    ...args,
  ];
  const flags = parseFlags('fetch', FETCH_FLAGS, argv, env, true);
  const stderr: string[] = [];
  const code = await runFetch(flags, { stdout: () => undefined, stderr: (t) => stderr.push(t) }, env, {
    lookup: net.lookup,
    openSocket: net.openSocket,
  });
  return { code, stderr: stderr.join('\n') };
}
