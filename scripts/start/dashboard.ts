import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot } from './config.js';
import { say } from './output.js';

const root = path.join(repoRoot, 'packages', 'dashboard');
/** What the build reads: a change to any of them makes dist/ stale. */
const sources = ['web', 'index.html', 'vite.config.ts', 'package.json'];

/** The newest modification time under `file` (a file or a folder, recursively). */
function newest(file: string): number {
  const stat = fs.statSync(file, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...fs.readdirSync(file).map((entry) => newest(path.join(file, entry))));
}

/**
 * Builds the dashboard (vite build, a few seconds) when dist/ is missing or older than its
 * sources; a current build is used as it is. Throws with the build's output when it fails.
 */
export function buildDashboardIfStale(): void {
  const built = fs.statSync(path.join(root, 'dist', 'index.html'), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const changed = Math.max(...sources.map((s) => newest(path.join(root, s))));
  if (built >= changed) return;
  say(built === 0 ? 'building the dashboard (no dist/ yet)' : 'building the dashboard (its sources changed)');
  try {
    execFileSync(path.join(repoRoot, 'node_modules', '.bin', 'vite'), ['build', '--logLevel', 'warn'], {
      cwd: root,
      stdio: 'pipe',
      timeout: 180_000,
    });
  } catch (err) {
    const e = err as { stderr?: Buffer; stdout?: Buffer; message: string };
    const output = `${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? ''}`.trim();
    throw new Error(output.split('\n').slice(-15).join('\n') || e.message);
  }
}
