import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  aggregateSubject,
  type CommandHandler,
  createCommandHandler,
  createEventStore,
  type EventStore,
  encodeCommit,
  hashCommit,
} from '@lightdom/eventstore';
import { createNatsTestEnv, type NatsTestEnv, repoRoot, sourceNodeFlags, testServers } from '@lightdom/testkit';
import { headers as natsHeaders } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/runCli.js';
import { exportLog } from '../src/export.js';
import type { AuditIo } from '../src/progress.js';
import { runVerify } from '../src/runVerify.js';

interface Log {
  env: NatsTestEnv;
  store: EventStore;
  handler: CommandHandler;
  campaigns: string[];
}

let main: Log;
let forged: Log;
let dir: string;

const meta = () => ({ actor: 'auditor-test', correlationId: randomUUID(), causationId: randomUUID() });

/** A stream of its own with a realistic history: interleaved campaigns, multi-event commits. */
async function createLog(label: string, campaignCount: number): Promise<Log> {
  const env = await createNatsTestEnv(label);
  const store = createEventStore({ nc: env.nc }, { stream: env.stream, subjectPrefix: env.subjectPrefix });
  await store.ensureStream();
  const handler = createCommandHandler({ store });
  const campaigns: string[] = [];
  for (let i = 0; i < campaignCount; i++) {
    const r = await handler.handle(
      {
        type: 'CreateCampaign',
        data: {
          name: `Spring-${i}`,
          channels: ['email', 'web'],
          budget: { amount: 100, currency: 'EUR' },
          schedule: { startAt: '2030-01-01T00:00:00Z' }, // CampaignCreated + CampaignScheduled
        },
      },
      meta(),
    );
    campaigns.push(r.id);
  }
  for (const [i, id] of campaigns.entries()) {
    const cmd = (type: string, data: Record<string, unknown> = {}) =>
      handler.handle({ type, aggregateId: id, data }, meta());
    await cmd('UpdateCampaign', {
      name: `Summer-${i}`,
      description: 'Renamed for summer',
      budget: { amount: 50, currency: 'EUR' },
    });
    await cmd('LaunchCampaign');
    await cmd('RecordCampaignMetrics', { impressions: 1000, clicks: 10, spend: 20 });
    if (i % 2 === 0) await cmd('RecordCampaignMetrics', { impressions: 500, spend: 30 }); // exhausts: 3 events
  }
  return { env, store, handler, campaigns };
}

/** Collects what a command writes; stderr is not a terminal. */
function memoryIo(): AuditIo & { out(): string; err(): string; stdout: Writable; stderr: Writable } {
  const sink = () => {
    let text = '';
    const stream = new Writable({
      write(chunk, _enc, done) {
        text += chunk.toString();
        done();
      },
    });
    return { stream, text: () => text };
  };
  const o = sink();
  const e = sink();
  return { stdout: o.stream, stderr: e.stream, isTTY: false, out: o.text, err: e.text };
}

const envOf = (log: Log) => ({
  NATS_URL: testServers.natsUrl,
  EVENTS_STREAM: log.env.stream,
  EVENTS_SUBJECT_PREFIX: log.env.subjectPrefix,
});

async function exportToFile(log: Log, name: string, opts: Parameters<typeof exportLog>[1] = {}) {
  const path = join(dir, name);
  const io = memoryIo();
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  const summary = await exportLog({ store: log.store, nc: log.env.nc }, opts, out, io);
  await writeFile(path, chunks.join(''));
  return { path, summary };
}

const verifyFile = (path: string, range: { from?: number; to?: number } = {}) =>
  runVerify({ source: { kind: 'file', path }, ...range }, memoryIo());

const verifyLive = (log: Log, range: { from?: number; to?: number; pageSize?: number } = {}) =>
  runVerify({ source: { kind: 'log', store: log.store, nc: log.env.nc }, ...range }, memoryIo());

function runChild(args: string[], env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [...sourceNodeFlags, 'packages/audit/src/cli/lightdom.ts', ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => {
      stdout += c;
    });
    child.stderr.on('data', (c) => {
      stderr += c;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lightdom-audit-'));
  [main, forged] = await Promise.all([createLog('audit', 6), createLog('auditforge', 2)]);
});

afterAll(async () => {
  await Promise.all([main?.env.cleanup(), forged?.env.cleanup()]);
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('audit verify on the live log', () => {
  it('passes a log written by the command handler, with the right counts', async () => {
    const head = await main.store.headPosition();
    const all = await main.store.readAll({ limit: 10_000 });
    const report = await verifyLive(main, { pageSize: 7 }); // several pages
    expect(report).toMatchObject({
      ok: true,
      violations: 0,
      commits: head,
      aggregates: 6,
      anchors: 0,
      firstPosition: 1,
      lastPosition: head,
      events: all.reduce((n, c) => n + c.events.length, 0),
    });
    expect(all.some((c) => c.events.length === 3)).toBe(true);
  });

  it('verifies a range, trusting each aggregate’s first commit in it as an anchor', async () => {
    const head = await main.store.headPosition();
    const from = 8;
    const report = await verifyLive(main, { from, to: head - 2 });
    expect(report).toMatchObject({
      ok: true,
      commits: head - 2 - from + 1,
      firstPosition: from,
      lastPosition: head - 2,
    });
    expect(report.anchors).toBeGreaterThan(0);
    expect(report.anchors).toBe(report.aggregates);
  });
});

describe('export and verify --file', () => {
  it('verifies an untouched export of the log, of a range and of one aggregate', async () => {
    const head = await main.store.headPosition();
    const whole = await exportToFile(main, 'whole.ndjson');
    expect(whole.summary).toMatchObject({ commits: head, firstPosition: 1, lastPosition: head });
    expect((await readFile(whole.path, 'utf8')).trim().split('\n')).toHaveLength(head);
    expect(await verifyFile(whole.path)).toMatchObject({ ok: true, commits: head, aggregates: 6, anchors: 0 });

    const range = await exportToFile(main, 'range.ndjson', { from: 10, to: 20 });
    expect(await verifyFile(range.path)).toMatchObject({ ok: true, commits: 11, firstPosition: 10 });

    const id = main.campaigns[2]!;
    const one = await exportToFile(main, 'one.ndjson', { aggregate: { aggregateType: 'campaign', aggregateId: id } });
    const own = await main.store.readAggregate('campaign', id);
    expect(await verifyFile(one.path)).toMatchObject({ ok: true, commits: own.length, aggregates: 1, anchors: 0 });
  });

  it('fails an export with one changed byte, naming the position and the aggregate', async () => {
    const { path } = await exportToFile(main, 'tampered.ndjson');
    const lines = (await readFile(path, 'utf8')).split('\n');
    const index = lines.findIndex((l) => l.includes('"name":"Summer-3"'));
    expect(index).toBeGreaterThan(-1);
    const victim = JSON.parse(lines[index]!) as { position: number; aggregateId: string };
    lines[index] = lines[index]!.replace('"name":"Summer-3"', '"name":"Summer-8"');
    await writeFile(path, lines.join('\n'));

    const report = await verifyFile(path);
    expect(report).toMatchObject({ ok: false, violations: 1 });
    expect(report.firstViolation).toMatchObject({
      kind: 'hash-mismatch',
      position: victim.position,
      aggregateType: 'campaign',
      aggregateId: victim.aggregateId,
      line: index + 1,
    });

    const io = memoryIo();
    expect(await runCli(['audit', 'verify', '--file', path], {}, io)).toBe(1);
    expect(io.out()).toContain(
      `first broken link: position ${victim.position} (line ${index + 1}), aggregate campaign/${victim.aggregateId}, hash-mismatch`,
    );
  });

  it('fails an export with a commit removed', async () => {
    const { path } = await exportToFile(main, 'cut.ndjson');
    const lines = (await readFile(path, 'utf8')).trim().split('\n');
    const last = new Map<string, number>();
    for (const [i, l] of lines.entries()) last.set((JSON.parse(l) as { aggregateId: string }).aggregateId, i);
    // An aggregate's last commit: nothing links to it, only the hole in the positions tells.
    const cut = [...last.values()].find((i) => i < lines.length - 1)!;
    lines.splice(cut, 1);
    await writeFile(path, `${lines.join('\n')}\n`);
    expect((await verifyFile(path)).firstViolation).toMatchObject({ kind: 'missing-position', position: cut + 1 });
  });
});

describe('commits forged onto the stream', () => {
  it('are caught: a wrong previous hash as a broken link, a non-JSON message as unparseable', async () => {
    const { env, store } = forged;
    const id = forged.campaigns[0]!;
    const last = (await store.lastCommit('campaign', id))!;
    const { hash: _h, position: _p, ...previous } = last;
    const body = {
      ...previous,
      commitId: randomUUID(),
      version: last.version + 1,
      previousPosition: last.position,
      timestamp: new Date().toISOString(),
      commandType: 'RenameCampaign',
      events: [
        { id: randomUUID(), type: 'CampaignRenamed', schemaVersion: 1, data: { name: 'Forged', previousName: 'x' } },
      ],
      prevHash: 'f'.repeat(64),
    };
    const js = env.nc.jetstream();
    const ack = await js.publish(
      aggregateSubject(env.subjectPrefix, 'campaign', id),
      encodeCommit({ ...body, hash: hashCommit(body) }),
      { expect: { lastSubjectSequence: last.position } },
    );
    const junk = await js.publish(aggregateSubject(env.subjectPrefix, 'campaign', randomUUID()), 'not a commit', {
      headers: natsHeaders(),
    });

    const report = await verifyLive(forged);
    expect(report.ok).toBe(false);
    expect(report.firstViolation).toMatchObject({
      kind: 'broken-link',
      position: ack.seq,
      aggregateType: 'campaign',
      aggregateId: id,
      expected: last.hash,
      actual: 'f'.repeat(64),
    });
    expect(report.violationsByKind).toEqual({ 'broken-link': 1, unparseable: 1 });
    expect(report.recorded.map((v) => v.position)).toEqual([ack.seq, junk.seq]);

    // The export keeps both, so the auditor sees the same offline.
    const { path, summary } = await exportToFile(forged, 'forged.ndjson');
    expect(summary).toMatchObject({ unparseable: 1, lastPosition: junk.seq });
    expect((await verifyFile(path)).violationsByKind).toEqual({ 'broken-link': 1, unparseable: 1 });

    const io = memoryIo();
    expect(await runCli(['audit', 'verify'], envOf(forged), io)).toBe(1);
    expect(io.out()).toContain(`first broken link: position ${ack.seq}, aggregate campaign/${id}, broken-link`);
  });
});

describe('the lightdom command', () => {
  it('verifies the live log clean and fails the tampered file, as a real process', async () => {
    const head = await main.store.headPosition();
    const ok = await runChild(['audit', 'verify'], envOf(main));
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain(`audit verify: stream ${main.env.stream}`);
    expect(ok.stdout).toMatch(new RegExp(`commits\\s+${head} \\(`));
    expect(ok.stdout).toMatch(/aggregates\s+6\n/);
    expect(ok.stdout).toMatch(/violations\s+0\n/);
    expect(ok.stdout).toContain('result: OK');

    const bad = await runChild(['audit', 'verify', '--file', join(dir, 'tampered.ndjson')], {});
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('hash-mismatch');
    expect(bad.stdout).toContain('result: FAILED');
  });

  it('exports to a file and verifies it, with --json', async () => {
    const out = join(dir, 'cli.ndjson');
    const io = memoryIo();
    expect(await runCli(['audit', 'export', '--from', '3', '--out', out], envOf(main), io)).toBe(0);
    expect(io.err()).toMatch(/audit export: \d+ commits, positions 3\.\.\d+ to /);
    const json = memoryIo();
    expect(await runCli(['audit', 'verify', '--file', out, '--json'], {}, json)).toBe(0);
    expect(JSON.parse(json.out())).toMatchObject({ ok: true, violations: 0, firstPosition: 3 });
  });

  it('exits 2 with a clear message for usage, configuration and connection errors', async () => {
    const usage = memoryIo();
    expect(await runCli(['audit', 'verify', '--from', 'x'], {}, usage)).toBe(2);
    expect(usage.err()).toContain('--from must be a position');

    const config = memoryIo();
    expect(await runCli(['audit', 'verify'], { NATS_URL: 'http://nope' }, config)).toBe(2);
    expect(config.err()).toContain('NATS_URL');

    const down = memoryIo();
    expect(await runCli(['audit', 'verify'], { NATS_URL: 'nats://127.0.0.1:1' }, down)).toBe(2);
    expect(down.err()).toContain('Cannot reach NATS at nats://127.0.0.1:1 (NATS_URL)');

    const noStream = memoryIo();
    expect(await runCli(['audit', 'verify'], { ...envOf(main), EVENTS_STREAM: 'NO_SUCH_STREAM' }, noStream)).toBe(2);
    expect(noStream.err()).toContain('Stream NO_SUCH_STREAM (EVENTS_STREAM) not found');

    const missing = memoryIo();
    expect(await runCli(['audit', 'verify', '--file', join(dir, 'absent.ndjson')], {}, missing)).toBe(2);
    expect(missing.err()).toContain('ENOENT');
  });
});
