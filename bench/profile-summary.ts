/**
 * `npx tsx bench/profile-summary.ts <file.cpuprofile> [top]`: where a V8 CPU profile's time went,
 * as self time per package (node_modules/<name>, the app's src/<folder>, node internals, GC) and
 * per function, plus inclusive time for a few functions worth knowing about.
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

const [file, topArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: tsx bench/profile-summary.ts <file.cpuprofile> [top]');
  process.exit(2);
}
const top = Number(topArg ?? 25);
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map<number, number>();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const selfMicros = new Map<number, number>();
profile.samples.forEach((id, i) => selfMicros.set(id, (selfMicros.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...selfMicros.values()].reduce((a, b) => a + b, 0);

function area(url: string, name: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)' || name === '(program)') return name;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const src = /\/(src|bench)\/(.+?)\/?[^/]*$/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  if (url.startsWith('node:')) return url;
  return url ? 'other' : '(native)';
}

const byArea = new Map<string, number>();
const byFunction = new Map<string, number>();
for (const [id, micros] of selfMicros) {
  const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
  const a = area(url, functionName);
  byArea.set(a, (byArea.get(a) ?? 0) + micros);
  const key = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(src|bench)\//, '$1/')}:${lineNumber + 1}`;
  byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
}

// Inclusive time of functions whose name matches, counted once per sample.
const inclusive = new Map<string, number>();
const watched = [/^hashToken$/, /^createHash$/, /^digest$/, /stringify/i, /^parse$/, /^validate$/, /^execute$/, /^query$/, /^handleRequest$/, /^dispatchEvent$/, /^publish$/, /^deliver$/];
profile.samples.forEach((leaf, i) => {
  const seen = new Set<string>();
  for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
    const name = byId.get(id)!.callFrame.functionName;
    for (const pattern of watched) {
      if (pattern.test(name) && !seen.has(name)) {
        seen.add(name);
        inclusive.set(name, (inclusive.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0));
      }
    }
  }
});

const pct = (micros: number) => `${((100 * micros) / total).toFixed(1).padStart(5)}%`;
const busy = total - (byArea.get('(idle)') ?? 0);
console.log(`${file}: ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (${pct(busy)})`);
console.log('\nself time by area:');
for (const [a, micros] of [...byArea].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`  ${pct(micros)}  ${a}`);
console.log('\nself time by function:');
for (const [f, micros] of [...byFunction].sort((x, y) => y[1] - x[1]).slice(0, top)) console.log(`  ${pct(micros)}  ${f}`);
console.log('\ninclusive time of some functions:');
for (const [f, micros] of [...inclusive].sort((x, y) => y[1] - x[1])) console.log(`  ${pct(micros)}  ${f}`);
