import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { isLightdomError } from '@lightdom/domain';
import { createCommandHandler, createEventStore, type EventStore, typeSubject } from '@lightdom/eventstore';
import { ConfigError } from '@lightdom/runtime';
import { connect, type NatsConnection } from 'nats';
import { exportLog } from '../export.js';
import type { AuditIo } from '../progress.js';
import { formatVerifyReport, runVerify, type VerifyReport } from '../runVerify.js';
import { type CliCommand, parseCliArgs, UsageError, usage } from './args.js';
import { type CliConfig, loadCliConfig } from './config.js';

export interface CliIo extends AuditIo {
  stdout: Writable;
  stderr: Writable;
}

/** Exit codes: the contract scripts and CI rely on. */
export const ExitCode = { ok: 0, violations: 1, failed: 2 } as const;

/** The CLI could not do its work (unreachable NATS, missing stream); nothing was verified. */
class CliFailure extends Error {}

interface OpenLog {
  nc: NatsConnection;
  store: EventStore;
  close(): Promise<void>;
}

async function openLog(config: CliConfig): Promise<OpenLog> {
  let nc: NatsConnection;
  try {
    // A CLI fails fast: no waiting for a first connection, no endless reconnects.
    nc = await connect({
      servers: config.NATS_URL.split(',').map((s) => s.trim()),
      name: 'lightdom-cli',
      reconnect: false,
      timeout: 5000,
    });
  } catch (err) {
    throw new CliFailure(`Cannot reach NATS at ${config.NATS_URL} (NATS_URL): ${(err as Error).message}`);
  }
  const close = async () => {
    if (!nc.isClosed()) await nc.drain().catch(() => nc.close());
  };
  try {
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(config.EVENTS_STREAM).catch((err: Error) => {
      throw new CliFailure(
        `Stream ${config.EVENTS_STREAM} (EVENTS_STREAM) not found at ${config.NATS_URL}: ${err.message}`,
      );
    });
    const subjects = typeSubject(config.EVENTS_SUBJECT_PREFIX);
    if (!info.config.subjects.includes(subjects)) {
      throw new CliFailure(
        `Stream ${config.EVENTS_STREAM} does not hold ${subjects} (EVENTS_SUBJECT_PREFIX=${config.EVENTS_SUBJECT_PREFIX}); ` +
          `its subjects are ${info.config.subjects.join(', ')}`,
      );
    }
  } catch (err) {
    await close();
    throw err instanceof CliFailure
      ? err
      : new CliFailure(`JetStream at ${config.NATS_URL}: ${(err as Error).message}`);
  }
  // No `upcast`: hashes cover the events exactly as stored.
  const store = createEventStore(
    { nc },
    { stream: config.EVENTS_STREAM, subjectPrefix: config.EVENTS_SUBJECT_PREFIX, readTimeoutMs: 15_000 },
  );
  return { nc, store, close };
}

function printReport(report: VerifyReport, json: boolean, io: CliIo): number {
  io.stdout.write(json ? `${JSON.stringify(report, null, 2)}\n` : formatVerifyReport(report));
  return report.ok ? ExitCode.ok : ExitCode.violations;
}

async function runExport(cmd: Extract<CliCommand, { command: 'export' }>, log: OpenLog, io: CliIo) {
  const range = { ...(cmd.from ? { from: cmd.from } : {}), ...(cmd.to ? { to: cmd.to } : {}) };
  const opts = { ...range, ...(cmd.aggregate ? { aggregate: cmd.aggregate } : {}) };
  if (!cmd.out) return exportLog(log, opts, io.stdout, io);
  // Write beside the target and rename at the end: a failed run leaves no file that
  // looks like a complete export.
  const partial = `${cmd.out}.partial`;
  const file = createWriteStream(partial);
  try {
    const summary = await exportLog(log, opts, file, io);
    file.end();
    await finished(file);
    await rename(partial, cmd.out);
    return summary;
  } catch (err) {
    file.destroy();
    await rm(partial, { force: true });
    throw err;
  }
}

function defaultActor(): string {
  try {
    return `cli:${userInfo().username}`;
  } catch {
    return 'cli:unknown'; // no passwd entry (some containers)
  }
}

/**
 * Records an operator's decision through the command handler, as any command is recorded:
 * validated, hashed into the projection's chain, with the actor on the commit. The
 * stalled projector finds it in the log and passes over exactly that commit.
 */
async function runSkip(cmd: Extract<CliCommand, { command: 'skip' }>, log: OpenLog, io: CliIo) {
  const target = await log.store.getCommit(cmd.position);
  if (!target) {
    throw new CliFailure(`There is no commit at position ${cmd.position} in stream ${log.store.options.stream}`);
  }
  const actor = cmd.actor ?? defaultActor();
  const result = await createCommandHandler({ store: log.store }).handle(
    {
      type: 'SkipProjectionCommit',
      aggregateId: cmd.projection,
      data: { position: cmd.position, reason: cmd.reason },
    },
    { actor, correlationId: randomUUID(), causationId: `cli:projections-skip:${randomUUID()}` },
  );
  const what = `${cmd.projection} may pass over position ${cmd.position} (${target.aggregateType} ${target.aggregateId}, ${target.commandType})`;
  io.stdout.write(
    result.events.length === 0
      ? `projections skip: already decided: ${what}\n`
      : `projections skip: recorded ProjectionCommitSkipped at position ${result.position} by ${actor}: ${what}\n`,
  );
  return ExitCode.ok;
}

async function run(cmd: Exclude<CliCommand, { command: 'help' }>, env: NodeJS.ProcessEnv, io: CliIo) {
  const range =
    cmd.command === 'skip' ? {} : { ...(cmd.from ? { from: cmd.from } : {}), ...(cmd.to ? { to: cmd.to } : {}) };
  if (cmd.command === 'verify' && cmd.file) {
    const report = await runVerify({ source: { kind: 'file', path: cmd.file }, ...range }, io);
    return printReport(report, cmd.json, io);
  }
  const log = await openLog(loadCliConfig(env));
  try {
    if (cmd.command === 'skip') return await runSkip(cmd, log, io);
    if (cmd.command === 'verify') {
      const report = await runVerify({ source: { kind: 'log', nc: log.nc, store: log.store }, ...range }, io);
      return printReport(report, cmd.json, io);
    }
    const s = await runExport(cmd, log, io);
    const positions = s.firstPosition === null ? 'none' : `${s.firstPosition}..${s.lastPosition}`;
    io.stderr.write(
      `audit export: ${s.commits} commits, positions ${positions}` +
        `${s.unparseable > 0 ? `, ${s.unparseable} undecodable messages kept as markers` : ''}` +
        ` to ${cmd.out ?? 'stdout'}\n`,
    );
    return ExitCode.ok;
  } finally {
    await log.close();
  }
}

/**
 * `lightdom audit verify|export` and `lightdom projections skip`, with its exit code as the result. Everything the CLI
 * does is here, so tests run it in-process with their own streams and environment.
 */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv, io: CliIo): Promise<number> {
  // `projections status|rebuild` belong to the read model's package (loaded by name: it depends on this one).
  if (argv[0] === 'projections' && (argv[1] === 'status' || argv[1] === 'rebuild'))
    return (await import(String('@lightdom/readmodel'))).runProjectionsCli(argv.slice(1), env, io);
  let cmd: CliCommand;
  try {
    cmd = parseCliArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    io.stderr.write(`lightdom: ${err.message}\n\n${usage}`);
    return ExitCode.failed;
  }
  if (cmd.command === 'help') {
    io.stdout.write(usage);
    return ExitCode.ok;
  }
  try {
    return await run(cmd, env, io);
  } catch (err) {
    const message =
      err instanceof ConfigError || err instanceof CliFailure
        ? err.message
        : isLightdomError(err) && err.issues
          ? `${err.message}: ${err.issues.map((i) => `${i.field} ${i.message}`).join('; ')}`
          : String(err);
    io.stderr.write(`lightdom: ${message}\n`);
    return ExitCode.failed;
  }
}
