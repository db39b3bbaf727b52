/** The pod's pull secrets as the webhook projects them into the init container: a directory of docker configs. */
import { access, readdir, stat } from '../base/fs.js';
import path from 'node:path';
import { asCamelOciError } from '../base/errors.js';
import { parseDockerConfig } from '../oci/docker-config.js';
import type { DockerConfig } from '../oci/docker-config.js';
import { readConfigFile } from '../registry/setup.js';

/** Bound on pull secret files read from the directory (a pod names at most a handful). */
const MAX_PULL_SECRET_FILES = 64;

/** Reads every docker config under the pull secrets directory; broken ones are reported and skipped. */
export async function readPullSecretsDir(dir: string, warn: (line: string) => void): Promise<DockerConfig[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const candidates: string[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('..')) continue; // the kubelet's atomic-writer bookkeeping
    const p = path.join(dir, name);
    // The projected layout is <secret name>/.dockerconfigjson (or .dockercfg); a plain config file
    // beside them is read too. A secret's name may end in .json: look, don't guess from the name.
    const info = await stat(p).catch(() => undefined);
    if (info?.isDirectory()) for (const key of ['.dockerconfigjson', '.dockercfg']) candidates.push(path.join(p, key));
    else if (info?.isFile()) candidates.push(p);
  }
  const configs: DockerConfig[] = [];
  for (const file of candidates.slice(0, MAX_PULL_SECRET_FILES)) {
    try {
      await access(file);
    } catch {
      continue;
    }
    try {
      configs.push(parseDockerConfig(await readConfigFile(file, 'pull-secrets-dir'), file));
    } catch (err) {
      warn(`skipping pull secret ${file}: ${asCamelOciError(err).message}`);
    }
  }
  return configs;
}
