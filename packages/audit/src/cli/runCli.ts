import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { readFile, rename, rm, stat } from 'node:fs/promises';
import { userInfo } from 'node:os';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import {
  type AnchorClient,
  buildProof,
  type ChainProblem,
  checkExportAgainstRoots,
  checkProof,
  createAnchorClient,
  verifyLogAgainstChain,
} from '@lightdom/anchor';
import { isLightdomError, type StoredCommit } from '@lightdom/domain';
import { createCommandHandler, createEventStore, type EventStore, typeSubject } from '@lightdom/eventstore';
import { ConfigError } from '@lightdom/runtime';
import { connect, type NatsConnection } from 'nats';
import { exportLog } from '../export.js';
import type { AuditIo } from '../progress.js';
import { formatVerifyReport, runVerify, type VerifyReport } from '../runVerify.js';
import { readNdjsonCommits } from '../source.js';
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

interface ChainSection {
  ok: boolean;
  summary: string;
  problems: ChainProblem[];
}

function printReport(report: VerifyReport, json: boolean, io: CliIo, chain?: ChainSection): number {
  const ok = report.ok && (chain?.ok ?? true);
  if (json) {
    io.stdout.write(`${JSON.stringify(chain ? { ...report, ok, chain } : report, null, 2)}\n`);
  } else {
    io.stdout.write(formatVerifyReport(report));
    if (chain) {
      io.stdout.write(`chain: ${chain.summary}\n`);
      for (const p of chain.problems.slice(0, 20)) {
        io.stdout.write(`  range ${p.range}${p.position === null ? '' : `, position ${p.position}`}: ${p.message}\n`);
      }
      io.stdout.write(chain.ok ? 'chain result: OK, every checkpoint matches\n' : 'chain result: FAILED\n');
    }
  }
  return ok ? ExitCode.ok : ExitCode.violations;
}

/** The contract named by CHAIN_RPC_URL and AUDIT_ANCHOR_ADDRESS (read-only). */
function chainClient(config: CliConfig): AnchorClient {
  if (!config.CHAIN_RPC_URL || !config.AUDIT_ANCHOR_ADDRESS) {
    throw new CliFailure('--chain needs CHAIN_RPC_URL and AUDIT_ANCHOR_ADDRESS (the AuditAnchor contract)');
  }
  return createAnchorClient({
    rpcUrl: config.CHAIN_RPC_URL,
    contractAddress: config.AUDIT_ANCHOR_ADDRESS,
    attempts: 2,
  });
}

async function withChain<T>(config: CliConfig, fn: (chain: AnchorClient) => Promise<T>): Promise<T> {
  const chain = chainClient(config);
  try {
    return await fn(chain);
  } catch (err) {
    if (err instanceof CliFailure || isLightdomError(err)) throw err;
    throw new CliFailure(`chain at ${config.CHAIN_RPC_URL} (CHAIN_RPC_URL): ${(err as Error).message}`);
  } finally {
    chain.destroy();
  }
}

/** An export's commits by position, for the anchored-root check (bounded by the file's size). */
async function exportCommits(path: string): Promise<Map<number, StoredCommit>> {
  const out = new Map<number, StoredCommit>();
  for await (const item of readNdjsonCommits(path)) {
    if (item.kind === 'commit' && typeof item.commit.position === 'number') out.set(item.commit.position, item.commit);
  }
  return out;
}

const maxProofBytes = 16 * 1024 * 1024;

async function runCheckProof(cmd: Extract<CliCommand, { command: 'check-proof' }>, env: NodeJS.ProcessEnv, io: CliIo) {
  const size = (await stat(cmd.file).catch(() => null))?.size;
  if (size === undefined) throw new CliFailure(`Cannot read ${cmd.file}`);
  if (size > maxProofBytes) throw new CliFailure(`${cmd.file} is larger than ${maxProofBytes} bytes: not a proof`);
  let proof: unknown;
  try {
    proof = JSON.parse(await readFile(cmd.file, 'utf8'));
  } catch (err) {
    io.stdout.write(`check-proof: ${cmd.file} is not JSON (${(err as Error).message})\nresult: FAILED\n`);
    return ExitCode.violations;
  }
  const result = cmd.chain
    ? await withChain(loadCliConfig(env), (chain) => checkProof(proof, chain))
    : await checkProof(proof);
  for (const p of result.problems) io.stdout.write(`  ${p}\n`);
  io.stdout.write(
    result.ok
      ? `check-proof: OK, the commit is in the checkpoint's tree${cmd.chain ? ' and the contract anchors that root' : ' (offline)'}\n`
      : 'check-proof: FAILED\n',
  );
  return result.ok ? ExitCode.ok : ExitCode.violations;
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
    cmd.command === 'verify' || cmd.command === 'export'
      ? { ...(cmd.from ? { from: cmd.from } : {}), ...(cmd.to ? { to: cmd.to } : {}) }
      : {};
  if (cmd.command === 'check-proof') return runCheckProof(cmd, env, io);
  if (cmd.command === 'verify' && cmd.file) {
    const file = cmd.file;
    const report = await runVerify({ source: { kind: 'file', path: file }, ...range }, io);
    if (!cmd.chain) return printReport(report, cmd.json, io);
    const chain = await withChain(loadCliConfig(env), async (c) => {
      const roots = await c.checkpoints();
      const r = checkExportAgainstRoots(await exportCommits(file), roots);
      return {
        ok: r.problems.length === 0,
        summary: `${r.checked} anchored ranges checked against the export, ${r.skipped} not wholly in it, of ${roots.length} on chain`,
        problems: r.problems,
      };
    });
    return printReport(report, cmd.json, io, chain);
  }
  const config = loadCliConfig(env);
  const log = await openLog(config);
  try {
    if (cmd.command === 'skip') return await runSkip(cmd, log, io);
    if (cmd.command === 'prove') {
      const proof =
        config.CHAIN_RPC_URL && config.AUDIT_ANCHOR_ADDRESS
          ? await withChain(config, (chain) => buildProof(log.store, cmd.position, chain))
          : await buildProof(log.store, cmd.position).catch((err: Error) => {
              throw new CliFailure(err.message);
            });
      io.stdout.write(`${JSON.stringify(proof, null, 2)}\n`);
      return ExitCode.ok;
    }
    if (cmd.command === 'verify') {
      const report = await runVerify({ source: { kind: 'log', nc: log.nc, store: log.store }, ...range }, io);
      if (!cmd.chain) return printReport(report, cmd.json, io);
      const chain = await withChain(config, async (c) => {
        const r = await verifyLogAgainstChain(log.store, c);
        return {
          ok: r.ok,
          summary: `${r.checkpoints} checkpoints recorded, ${r.anchored} anchored and matching, ${r.onChain} on chain, ${r.pending} not yet anchored`,
          problems: r.problems,
        };
      });
      return printReport(report, cmd.json, io, chain);
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
