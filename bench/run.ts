/**
 * `npm run bench [-- --quick] [-- --only=<scenario>]`.
 *
 * The workspace packages must resolve to their TypeScript sources (the `lightdom-src`
 * export condition), as they do for the services that spawnService starts; `tsx` alone
 * would pick their possibly stale or missing `dist`. So this file only re-starts itself
 * under node with that condition and then hands over to main.ts.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const sourceMode = process.execArgv.some((a) => a.includes('lightdom-src'));

if (!sourceMode) {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const child = spawn(
    process.execPath,
    ['--conditions=lightdom-src', '--import', 'tsx', 'bench/run.ts', ...process.argv.slice(2)],
    { cwd: root, stdio: 'inherit' },
  );
  // Ctrl-C reaches the child too (same process group); it cleans up and exits.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  const { parseArgs, runBench } = await import('./main.js');
  // Exit explicitly: a client library's leftover timer must not keep a finished run alive.
  process.exit(await runBench(parseArgs(process.argv.slice(2))));
}
