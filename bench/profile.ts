/**
 * Summarizes a V8 CPU profile (`node --cpu-prof`) of the webhook under the admission benchmark:
 * self time per function, and per area of the code, as a share of the busy (non-idle) time and in
 * µs per admission when the admission count is given.
 *
 *   node .build/bench/profile.js FILE.cpuprofile [ADMISSIONS] [--top 40]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Area of a frame, for the per-area table. */
function area(url: string, name: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)' || name === '(program)' || name === '(root)') return name;
  const m = /\/(src|dist)\/([a-z-]+)\//.exec(url);
  if (m) return `camel-oci ${m[2]}/`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return `npm ${pkg[1]}`;
  if (url.startsWith('node:')) {
    if (/tls|_tls|crypto/.test(url)) return 'node TLS';
    if (/http|_http/.test(url)) return 'node HTTP';
    if (/stream/.test(url)) return 'node streams';
    if (/timers/.test(url)) return 'node timers';
    return 'node other';
  }
  if (url === '') {
    if (/JSON|parse|stringify/i.test(name)) return 'native JSON';
    return `native ${name || '(anonymous)'}`;
  }
  return url;
}

const [file, countArg, ...rest] = process.argv.slice(2);
const top = Number(rest[rest.indexOf('--top') + 1]) || 40;
const p = JSON.parse(readFileSync(file!, 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
p.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
const fn = new Map<string, number>();
const areas = new Map<string, number>();
let busy = 0;
for (const [id, us] of self) {
  const n = byId.get(id)!;
  const { functionName, url, lineNumber } = n.callFrame;
  const a = area(url, functionName);
  areas.set(a, (areas.get(a) ?? 0) + us);
  if (a !== '(idle)') busy += us;
  const key = `${functionName || '(anonymous)'} ${url.replace(/^.*\/(src|dist|node_modules)\//, '$1/')}:${lineNumber + 1}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
}
const count = Number(countArg) || 0;
const show = (m: Map<string, number>, n: number): void => {
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    const per = count > 0 ? ` ${(us / count).toFixed(1)} µs/admission` : '';
    console.log(`${((100 * us) / busy).toFixed(1).padStart(5)} %${per}  ${k}`);
  }
};
console.log(`busy ${(busy / 1e6).toFixed(2)} s${count > 0 ? `, ${(busy / count).toFixed(1)} µs per admission` : ''}`);
console.log('\nby area:');
show(areas, 30);
console.log('\nby function:');
show(fn, top);
