import type { CheckResult } from './checks/check.js';
import { say } from './lib/log.js';
import { runScaleSuite } from './scale/scaleSuite.js';
import { runSuite, type SuiteResult } from './suite.js';

interface Args {
  quick: boolean;
  broken: boolean;
  proveDetection: boolean;
  runs: number;
  /** `--scale`: only the scale-out check (faults/scale); without it a normal run ends with it. */
  scaleOnly: boolean;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    quick: false,
    // biome-ignore lint/suspicious/noUndeclaredEnvVars: the fault suite is no turbo task, so turbo caching does not apply
    broken: process.env.FAULTS_BROKEN === '1',
    proveDetection: false,
    runs: 3,
    scaleOnly: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick') args.quick = true;
    else if (a === '--broken') args.broken = true;
    else if (a === '--prove-detection') args.proveDetection = true;
    else if (a === '--runs') args.runs = Number(argv[++i]);
    else if (a === '--scale') args.scaleOnly = true;
    else throw new Error(`unknown argument ${a}; see faults/run.ts for the options`);
  }
  if (!Number.isInteger(args.runs) || args.runs < 1) throw new Error('--runs needs a positive whole number');
  return args;
}

const duration = (ms: number) => `${(ms / 1000).toFixed(0)} s`;

/** The read-model checks are the ones a projector that applies a batch twice must trip. */
const caughtDefect = (checks: CheckResult[]) => checks.filter((c) => c.readModel && !c.ok);

/** A run that could not finish (a server would not start, a step threw) fails as a whole. */
async function runOnce(quick: boolean, broken: boolean): Promise<SuiteResult> {
  const started = Date.now();
  try {
    return await runSuite({ quick, broken });
  } catch (err) {
    say(`the run could not finish: ${(err as Error).stack ?? err}`);
    const failed: CheckResult = { name: 'the run finished', ok: false, detail: (err as Error).message };
    return { checks: [failed], passed: false, durationMs: Date.now() - started, commands: 0, commits: 0 };
  }
}

async function runScaleOnce(quick: boolean): Promise<SuiteResult> {
  const started = Date.now();
  try {
    return await runScaleSuite({ quick });
  } catch (err) {
    say(`the scale-out run could not finish: ${(err as Error).stack ?? err}`);
    const failed: CheckResult = { name: 'the scale-out run finished', ok: false, detail: (err as Error).message };
    return { checks: [failed], passed: false, durationMs: Date.now() - started, commands: 0, commits: 0 };
  }
}

/** Runs the suite as asked; resolves with the exit code. */
export async function main(argv: string[]): Promise<number> {
  const args = parseArgs(argv);
  let interrupted = false;
  process.on('SIGINT', () => {
    // The suite's finally blocks stop every server and service; a second Ctrl-C exits at once.
    if (interrupted) process.exit(130);
    interrupted = true;
    say('interrupted: cleaning up (Ctrl-C again to exit at once)');
  });

  if (args.scaleOnly) {
    const result = await runScaleOnce(args.quick);
    summary(result);
    return result.passed ? 0 : 1;
  }

  if (!args.proveDetection) {
    const result = await runOnce(args.quick, args.broken);
    summary(result);
    if (args.broken) {
      say(
        result.passed
          ? 'the broken projector was NOT caught by this run'
          : `the broken projector was caught: ${caughtDefect(result.checks)
              .map((c) => c.name)
              .join('; ')}`,
      );
      return result.passed ? 0 : 1;
    }
    // The scale-out (several instances, a JetStream cluster, nginx) is a run of its own.
    const scale = interrupted ? undefined : await runScaleOnce(args.quick);
    if (scale) summary(scale);
    return result.passed && scale?.passed === true ? 0 : 1;
  }

  const results: SuiteResult[] = [];
  for (let run = 1; run <= args.runs && !interrupted; run++) {
    say(`=== detection run ${run} of ${args.runs}: broken projector`);
    const result = await runOnce(args.quick, true);
    summary(result);
    results.push(result);
  }
  const caught = results.filter((r) => caughtDefect(r.checks).length > 0).length;
  say(`detection rate: the broken projector was caught in ${caught} of ${results.length} runs`);
  const ok = results.length === args.runs && caught === results.length;
  say(ok ? 'the suite catches the defect: exit 0' : 'the suite MISSED the defect in some run: exit 1');
  return ok ? 0 : 1;
}

function summary(r: SuiteResult): void {
  const failed = r.checks.filter((c) => !c.ok).length;
  say(
    `${r.passed ? 'PASSED' : 'FAILED'}: ${r.checks.length - failed} of ${r.checks.length} checks passed; ${r.commands} commands acknowledged, ${r.commits} commits in the log; run took ${duration(r.durationMs)}`,
  );
}
