/** Plans for tests that exercise the fetcher before any byte arrives: one raw jar layer, from one repository. */
import { digestHex12, type FetchPlan } from '../../src/plan/plan.js';

/** A valid plan of one raw 10-byte `x.jar` layer of `registry`/`repository` (the digest names no real blob). */
export function oneJarPlan(registry: string, options: { scheme?: 'http' | 'https'; repository?: string; digest?: string } = {}): FetchPlan {
  const digest = options.digest ?? `sha256:${'ab'.repeat(32)}`;
  const repository = options.repository ?? 'acme/deps';
  return {
    version: 1,
    artifacts: [
      {
        reference: `${registry}/${repository}:1`,
        registry,
        repository,
        scheme: options.scheme ?? 'https',
        digest,
        layers: [
          {
            digest,
            size: 10,
            mediaType: 'application/java-archive',
            kind: 'dependency',
            format: 'raw',
            target: `dependencies/${digestHex12(digest)}`,
            fileName: 'x.jar',
          },
        ],
      },
    ],
  };
}
