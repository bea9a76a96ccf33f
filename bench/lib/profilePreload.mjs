// Loaded with `--import` (NODE_OPTIONS) into a bench child when `npm run bench -- --profile`
// runs: Node 20 refuses --cpu-prof in NODE_OPTIONS, so the profiler is started here through
// the inspector and its profile written when the process exits (SIGTERM → clean exit).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

// biome-ignore lint/suspicious/noUndeclaredEnvVars: the bench is not a turbo task, so turbo's cache never sees it.
const file = process.env.BENCH_PROFILE_FILE?.replace('{pid}', String(process.pid));
if (file) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 500 });
  session.post('Profiler.start');
  process.once('exit', () => {
    // Same-thread sessions answer synchronously, so this completes inside the exit handler.
    session.post('Profiler.stop', (err, res) => {
      if (!err) writeFileSync(file, JSON.stringify(res.profile));
    });
  });
}
