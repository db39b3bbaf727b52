/** Benchmark entry point: `npm run bench -- <resolve|admission|fetch|scale|startup> [flags]` (see bench/README.md). */
import { runResolveBench } from './resolve.js';
import { runAdmissionBench } from './admission.js';
import { runFetchBench } from './fetch.js';
import { runScaleBench } from './scale.js';
import { runStartupBench } from './startup.js';

const [name, ...rest] = process.argv.slice(2);
const benches: Record<string, (args: readonly string[]) => Promise<void>> = {
  resolve: runResolveBench,
  admission: runAdmissionBench,
  fetch: runFetchBench,
  scale: runScaleBench,
  startup: runStartupBench,
};
const bench = name ? benches[name] : undefined;
if (!bench) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}> [flags]`);
  process.exitCode = 2;
} else {
  bench(rest).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
