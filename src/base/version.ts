/** The package version, read once from the package.json that ships beside dist/ (this file is dist/lib/base/version.js). */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

/** Returns the camel-oci version (`unknown` if package.json cannot be read). */
export function version(): string {
  if (cached === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
      cached = pkg.version ?? 'unknown';
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
