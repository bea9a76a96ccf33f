/**
 * `node --import tsx bench/profileTop.ts <file.cpuprofile>… [--top=25]`: the frames with the
 * most self time in V8 CPU profiles (as `--cpu-prof` or `npm run bench -- --profile` write
 * them), summed over the files given, plus the same grouped by package, so "where the time
 * goes" is a table rather than a guess.
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

const args = process.argv.slice(2);
const top = Number(args.find((a) => a.startsWith('--top='))?.slice(6) ?? 25);
const files = args.filter((a) => !a.startsWith('--'));
if (files.length === 0) {
  console.error('usage: bench/profileTop.ts <file.cpuprofile>… [--top=25]');
  process.exit(2);
}

/** Where a frame's code lives, in a few words: a package, node itself, or our source file. */
function placeOf(url: string): string {
  if (!url) return '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  if (url.startsWith('node:')) return 'node';
  const ours = /\/(packages\/[^/]+|bench|contracts)\//.exec(url);
  return ours ? ours[1]! : url.replace(/^file:\/\//, '');
}

const selfUs = new Map<string, number>();
/** Time under each frame (self + callees), counted once per sample even when it recurses. */
const totalUs = new Map<string, number>();
const byPlace = new Map<string, number>();
let total = 0;
for (const file of files) {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const keyOf = (n: ProfileNode) => {
    const { functionName, url, lineNumber } = n.callFrame;
    const short = url ? `${url.split('/').slice(-1)[0]}:${lineNumber + 1}` : '';
    return `${functionName || '(anonymous)'}  ${placeOf(url)}${short ? ` ${short}` : ''}`;
  };
  p.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const k = keyOf(nodes.get(at)!);
      if (seen.has(k)) continue;
      seen.add(k);
      totalUs.set(k, (totalUs.get(k) ?? 0) + (p.timeDeltas[i] ?? 0));
    }
    const dt = p.timeDeltas[i] ?? 0;
    const n = nodes.get(id);
    if (!n) return;
    const place = placeOf(n.callFrame.url);
    const key = keyOf(n);
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
    byPlace.set(place, (byPlace.get(place) ?? 0) + dt);
    total += dt;
  });
}

const idleUs = selfUs.get('(idle)  (native)') ?? 0;
const busy = total - idleUs;
const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)} %`;
console.log(
  `${files.length} profile(s), ${(total / 1e6).toFixed(2)} s sampled, ${(busy / 1e6).toFixed(2)} s busy (percentages are of busy time)`,
);
console.log(`\ntop ${top} frames by self time:`);
for (const [k, us] of [...selfUs]
  .sort((a, b) => b[1] - a[1])
  .filter(([k]) => k !== '(idle)  (native)')
  .slice(0, top)) {
  console.log(`${pct(us)}  ${k}`);
}
console.log(`\ntop ${top} of our frames (packages/, bench/) by total time (self + callees):`);
for (const [k, us] of [...totalUs]
  .sort((a, b) => b[1] - a[1])
  .filter(([k]) => /packages\/|bench/.test(k))
  .slice(0, top)) {
  console.log(`${pct(us)}  ${k}`);
}
console.log('\nby package / place:');
for (const [k, us] of [...byPlace].sort((a, b) => b[1] - a[1]).slice(0, 15)) {
  console.log(`${pct(k === '(native)' ? us - idleUs : us)}  ${k}`);
}
