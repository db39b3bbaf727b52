#!/usr/bin/env node
/**
 * The `camel-oci` executable. It turns on Node's compile cache before any other module of ours
 * loads (a static import would load its whole graph first, uncached), then runs the command
 * (main.ts).
 *
 * Node's on-disk compile cache (Node >= 22.1; absent on 20): modules load compiled instead of
 * parsed, which is most of a short run such as the init container's fetch of a small artifact
 * (bench/RESULTS.md, "Fetch"). It honours NODE_COMPILE_CACHE, which the image points at a cache
 * filled when the image was built; elsewhere it is Node's default under the temp dir. A cache that
 * cannot be read or written only costs the time it would have saved.
 */
import * as nodeModule from 'node:module';

(nodeModule as { enableCompileCache?: () => unknown }).enableCompileCache?.();
const { main } = await import('./main.js');
main(process.argv.slice(2), process.env).then(
  (code) => {
    // Long-running commands (serve) never resolve; the others exit with their code.
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`camel-oci: ${String(err)}\n`);
    process.exitCode = 1;
  },
);
