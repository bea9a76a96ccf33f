import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine } from './lib/machine.js';
import { setProfileDir } from './lib/processes.js';
import { type BenchResults, textTable, writeOutputs } from './lib/report.js';
import { createScope } from './lib/scope.js';
import { assertBenchServers } from './lib/servers.js';
import type { Figure, FigureInput, ScenarioContext, Scope, Server } from './lib/types.js';
import { scenarios } from './scenarios/index.js';

export interface BenchArgs {
  quick: boolean;
  only?: string;
  /** Write CPU profiles per scenario (bench process and every child) under bench/results/profiles/. */
  profile: boolean;
  /** Measure nothing: rewrite docs/BENCHMARKS.md from bench/results/latest.json (after editing bench/analysis.md). */
  reportOnly?: boolean;
}

const usage =
  'usage: npm run bench [-- --quick] [-- --only=<scenario>[,<scenario>…]] [-- --profile] [-- --report-only]';

export function parseArgs(argv: string[]): BenchArgs {
  const args: BenchArgs = { quick: false, profile: false };
  for (const a of argv) {
    if (a === '--quick') args.quick = true;
    else if (a === '--profile') args.profile = true;
    else if (a === '--report-only') args.reportOnly = true;
    else if (a.startsWith('--only=')) args.only = a.slice('--only='.length);
    else if (a === '--help' || a === '-h') {
      console.log(`${usage}\nscenarios: ${scenarios.map((s) => s.name).join(', ')}`);
      process.exit(0);
    } else {
      console.error(`unknown argument ${a}\n${usage}`);
      process.exit(2);
    }
  }
  return args;
}

const outputs = {
  markdown: fileURLToPath(new URL('../docs/BENCHMARKS.md', import.meta.url)),
  json: fileURLToPath(new URL('./results/latest.json', import.meta.url)),
  profiles: fileURLToPath(new URL('./results/profiles/', import.meta.url)),
};

/** `EADDRINUSE … 127.0.0.1:5673` anywhere in a failure: name the port first. */
function failureText(err: unknown): string {
  const text = (err as Error)?.stack ?? String(err);
  const busy = /EADDRINUSE: address already in use \S*?:(\d+)/.exec(text) ?? /EADDRINUSE\D*?(\d{2,5})/.exec(text);
  return busy && !text.includes('is held by another process')
    ? `port ${busy[1]} is held by another process (EADDRINUSE)\n${text}`
    : text;
}

/** The bench process's own CPU profile for one scenario (children write theirs with --cpu-prof). */
async function startProfiler(): Promise<() => Promise<object>> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  return async () => {
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    return profile;
  };
}

const defaultNeeds: Server[] = ['nats', 'postgres', 'redis'];

/** Runs the selected scenarios one after another; returns the exit code. */
export async function runBench(args: BenchArgs): Promise<number> {
  if (args.reportOnly) {
    writeOutputs(JSON.parse(readFileSync(outputs.json, 'utf8')) as BenchResults, outputs);
    console.log(`wrote ${outputs.markdown} from ${outputs.json}`);
    return 0;
  }
  const only = args.only?.split(',');
  const selected = only ? scenarios.filter((s) => only.includes(s.name)) : scenarios;
  if (selected.length === 0 || (only && selected.length !== only.length)) {
    console.error(`no scenario named ${args.only}; there are: ${scenarios.map((s) => s.name).join(', ')}`);
    return 2;
  }
  try {
    await assertBenchServers(new Set(selected.flatMap((s) => s.needs ?? defaultNeeds)));
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }
  const machine = await describeMachine();
  const mode = args.quick ? 'quick' : 'full';
  console.log(
    `bench (${mode}): ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}, nats-server ${machine.natsServer}`,
  );

  let current: Scope | undefined;
  const interrupted = async () => {
    console.error('\ninterrupted: cleaning up');
    await current?.close();
    process.exit(130);
  };
  process.once('SIGINT', () => void interrupted());
  process.once('SIGTERM', () => void interrupted());

  const started = performance.now();
  const figures: Figure[] = [];
  const done: BenchResults['scenarios'] = [];
  const failed: string[] = [];
  for (const scenario of selected) {
    console.log(`\n▶ ${scenario.name}: ${scenario.description}`);
    const t0 = performance.now();
    const loadBefore = loadavg()[0]!;
    const scope = createScope((m) => console.error(`  ${m}`));
    current = scope;
    let stopProfiler: (() => Promise<object>) | undefined;
    if (args.profile) {
      const dir = join(outputs.profiles, scenario.name);
      mkdirSync(dir, { recursive: true });
      setProfileDir(dir);
      stopProfiler = await startProfiler();
    }
    const ctx: ScenarioContext = {
      quick: args.quick,
      pick: (quick, full) => (args.quick ? quick : full),
      scope,
      log: (m) => console.log(`  ${m}`),
      figure: (f: FigureInput) => ({
        scenario: scenario.name,
        metric: f.metric,
        unit: f.unit,
        value: f.value,
        baseline: { name: f.baseline, value: f.baselineValue },
        ratio: f.value / f.baselineValue,
        ...(f.notes ? { notes: f.notes } : {}),
      }),
    };
    try {
      const result = await scenario.run(ctx);
      figures.push(...result);
      const seconds = (performance.now() - t0) / 1000;
      const loadAverage: [number, number] = [loadBefore, loadavg()[0]!];
      done.push({ name: scenario.name, description: scenario.description, seconds, loadAverage });
      const notes = result.filter((f) => f.notes).map((f) => `  · ${f.metric}: ${f.notes}`);
      console.log(
        `\n${textTable(result)}\n${notes.join('\n')}\n  (${seconds.toFixed(1)} s; 1-minute load average ${loadAverage.map((l) => l.toFixed(1)).join(' → ')})`,
      );
    } catch (err) {
      // One scenario failing does not stop the others; the run exits non-zero at the end.
      console.error(`\n✗ ${scenario.name} failed: ${failureText(err)}`);
      failed.push(scenario.name);
      done.push({
        name: scenario.name,
        description: scenario.description,
        seconds: (performance.now() - t0) / 1000,
        loadAverage: [loadBefore, loadavg()[0]!],
        failed: failureText(err).split('\n')[0]!.slice(0, 300),
      });
    } finally {
      await scope.close();
      current = undefined;
      if (stopProfiler) {
        // After the scope closed: the children have exited and written their profiles.
        const file = join(outputs.profiles, scenario.name, 'bench-process.cpuprofile');
        writeFileSync(file, JSON.stringify(await stopProfiler()));
        setProfileDir(undefined);
        console.log(`  profiles: ${join(outputs.profiles, scenario.name)}/`);
      }
    }
  }

  const durationSeconds = (performance.now() - started) / 1000;
  console.log(`\nAll figures (${mode}, ${durationSeconds.toFixed(0)} s):\n\n${textTable(figures)}`);
  const exitCode = failed.length > 0 ? 1 : 0;
  if (failed.length > 0) console.error(`\n✗ ${failed.length} scenario(s) failed: ${failed.join(', ')}`);
  if (args.only) {
    console.log('\n--only: no files written');
    return exitCode;
  }
  const results: BenchResults = {
    generatedAt: new Date().toISOString(),
    mode,
    durationSeconds,
    machine,
    scenarios: done,
    figures,
  };
  writeOutputs(results, outputs);
  console.log(`\nwrote ${outputs.markdown} and ${outputs.json}`);
  return exitCode;
}
