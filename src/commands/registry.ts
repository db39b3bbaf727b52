/** The subcommands of `camel-oci`, by name. Each command's code is imported only when it runs. */
import type { FlagTable, ParsedFlags } from '../config/flags.js';
import type { CommandIO } from './io.js';
import { AUDIT_FLAGS, CERTS_FLAGS, FETCH_FLAGS, INJECT_FLAGS, PUSH_FLAGS, RESOLVE_FLAGS, SERVE_FLAGS } from '../config/tables.js';

/** One subcommand. */
export interface Command {
  readonly summary: string;
  readonly usage: string;
  readonly flags: FlagTable;
  /** Whether flags also read `CAMEL_OCI_*` variables (serve and fetch: README.md, Configuration reference). */
  readonly env: boolean;
  run(flags: ParsedFlags, io: CommandIO, env: Readonly<Record<string, string | undefined>>): Promise<number>;
}

/** All subcommands. */
export const COMMANDS: Readonly<Record<string, Command>> = {
  serve: {
    summary: 'run the admission webhook (HTTPS)',
    usage: '[--port 8443] [--tls-cert FILE --tls-key FILE] [--fetcher-image IMAGE] [--on-error deny|allow] [registry flags]',
    flags: SERVE_FLAGS,
    env: true,
    run: async (flags, io, env) => (await import('./serve.js')).runServe(flags, io, env),
  },
  fetch: {
    summary: 'the init container: download, verify and unpack the planned layers',
    usage: '[--root /camel-oci] [--plan FILE] [--timeout 50s] [--parallel 4] [registry flags]  (plan from $CAMEL_OCI_PLAN)',
    flags: FETCH_FLAGS,
    env: true,
    run: async (flags, io, env) => (await import('./fetch.js')).runFetch(flags, io, env),
  },
  resolve: {
    summary: 'resolve references; print the pinned digest and selected layers',
    usage:
      'REF... [--json] [--platform os/arch] [--registry-config FILE] [--insecure-registry HOST] [--allow-registry HOST] [--ca-file FILE]',
    flags: RESOLVE_FLAGS,
    env: false,
    run: async (flags, io) => (await import('./resolve.js')).runResolve(flags, io),
  },
  inject: {
    summary: 'inject offline into Pod / workload YAML, and pin Integrations and Pipes, like istioctl kube-inject',
    usage: '-f FILE|- [--fetcher-image IMAGE] [registry flags]',
    flags: INJECT_FLAGS,
    env: false,
    run: async (flags, io) => (await import('./inject.js')).runInject(flags, io),
  },
  certs: {
    summary: 'generate a CA and serving certificate for the webhook Service, and the kustomize pieces',
    usage: '[--service NAME] [--namespace NS] [--out DIR] [--validity-days N] [--dns-name NAME]... [--ip-address IP]... [--force]',
    flags: CERTS_FLAGS,
    env: false,
    run: async (flags, io) => (await import('./certs.js')).runCerts(flags, io),
  },
  push: {
    summary: 'pack jars and Kamelet folders into an artifact (also an image) and push it, or write an OCI layout',
    usage:
      'REF [--dependency FILE|DIR]... [--kamelets DIR]... [--oci-layout DIR] [--mount-from REPO] [registry flags]  (SOURCE_DATE_EPOCH sets the creation time)',
    flags: PUSH_FLAGS,
    env: false,
    run: async (flags, io, env) => (await import('./push.js')).runPush(flags, io, env),
  },
  audit: {
    summary: 'show what each integration asked, pinned and runs; exit 3 when something is off',
    usage: '[-n NAMESPACE | -A] [-o table|json] [--check-tags] [registry flags]  (kubeconfig from $KUBECONFIG)',
    flags: AUDIT_FLAGS,
    env: false,
    run: async (flags, io, env) => (await import('./audit.js')).runAudit(flags, io, env),
  },
};
