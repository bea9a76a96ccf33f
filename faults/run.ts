/**
 * `npm run test:faults`: kills and restarts every part of the stack under load, then
 * checks that nothing acknowledged was lost or doubled and that everything recovered
 * by itself. See docs/faults.md.
 *
 *   npm run test:faults                         the full run (about 2-3 minutes)
 *   npm run test:faults -- --quick              a shorter load and fewer kills
 *   npm run test:faults -- --broken             the same run against a projector that moves
 *                                               its checkpoint outside the transaction
 *                                               (FAULTS_BROKEN=1 does the same); expected to fail
 *   npm run test:faults -- --prove-detection [--runs N]
 *                                               runs the broken variant N times (default 3) and
 *                                               exits 0 only if every run caught the defect
 *
 * Only node built-ins are imported statically: the suite itself must run with the
 * `lightdom-src` export condition (workspace packages from their TypeScript sources, as
 * the services run), so without it this file starts itself again with it.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const sourceCondition = '--conditions=lightdom-src';

if (!process.execArgv.includes(sourceCondition)) {
  const child = spawn(
    process.execPath,
    [sourceCondition, '--import', 'tsx', fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    { stdio: 'inherit', cwd: fileURLToPath(new URL('..', import.meta.url)) },
  );
  // Ctrl-C reaches the child too (same process group); it cleans up and decides the exit code.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => child.kill('SIGTERM'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
  const { main } = await import('./cli.js');
  process.exitCode = await main(process.argv.slice(2));
}
