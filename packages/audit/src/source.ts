import { open } from 'node:fs/promises';
import type { StoredCommit } from '@lightdom/domain';
import { isLightdomError } from '@lightdom/domain';
import type { EventStore } from '@lightdom/eventstore';
import { decodeCommit, isNotFound, translateNatsError } from '@lightdom/eventstore';
import type { NatsConnection, StoredMsg } from 'nats';

/** One entry of the log or of an export: a commit, or something that is not one. */
export type AuditItem =
  | { kind: 'commit'; commit: StoredCommit; line?: number }
  | { kind: 'unparseable'; position: number | null; line?: number; reason: string; raw: string };

export interface LogRange {
  /** First position, inclusive. Default 1. */
  from?: number;
  /** Last position, inclusive. Default: the head when reading starts. */
  to?: number;
}

export interface LogSourceOptions extends LogRange {
  /** Commits per read. Default 1000. */
  pageSize?: number;
}

export interface LogSourceDeps {
  /** A store created WITHOUT `upcast`: the audit must see events as stored. */
  store: EventStore;
  nc: NatsConnection;
}

interface DirectGet {
  direct: { getMessage(stream: string, query: { seq: number }): Promise<StoredMsg> };
}

const decoder = new TextDecoder();

/** Refuses a store that would hand the audit upcast events, whose hashes never match. */
export function assertRawStore(store: EventStore): void {
  if (store.options.upcast) {
    throw new TypeError('audit: the event store must not upcast events; hashes cover events as stored');
  }
}

const isDecodeFailure = (err: unknown) =>
  err instanceof SyntaxError || (isLightdomError(err) && err.cause instanceof SyntaxError);

/**
 * The commits of the live log in [from, to], read a page at a time. A message that is
 * not JSON is yielded as `unparseable` instead of ending the run: the audit has to
 * report a forged message, not crash on it.
 */
export async function* readLogCommits(deps: LogSourceDeps, opts: LogSourceOptions = {}): AsyncGenerator<AuditItem> {
  const { store } = deps;
  assertRawStore(store);
  const pageSize = opts.pageSize ?? 1000;
  const to = opts.to ?? (await store.headPosition());
  let after = Math.max(0, (opts.from ?? 1) - 1);
  while (after < to) {
    let page: AuditItem[];
    try {
      const commits = await store.readAll({ after, limit: pageSize, until: to });
      page = commits.map((commit) => ({ kind: 'commit', commit }));
    } catch (err) {
      if (!isDecodeFailure(err)) throw err;
      page = await readPageRaw(deps, after + 1, Math.min(after + pageSize, to));
    }
    const last = page.at(-1);
    if (!last) return;
    for (const item of page) yield item;
    const lastPosition = last.kind === 'commit' ? last.commit.position : last.position;
    if (lastPosition === null || lastPosition <= after) return;
    after = lastPosition;
  }
}

/** Reads positions one by one, so one undecodable message does not hide its page. */
async function readPageRaw(deps: LogSourceDeps, first: number, last: number): Promise<AuditItem[]> {
  const jsm = (await deps.nc.jetstreamManager()) as unknown as DirectGet;
  const out: AuditItem[] = [];
  for (let seq = first; seq <= last; seq++) {
    let msg: StoredMsg;
    try {
      msg = await jsm.direct.getMessage(deps.store.options.stream, { seq });
    } catch (err) {
      if (isNotFound(err)) continue;
      throw translateNatsError(err, 'read');
    }
    try {
      out.push({ kind: 'commit', commit: decodeCommit(msg.data, msg.seq) });
    } catch (err) {
      const raw = decoder.decode(msg.data);
      out.push({ kind: 'unparseable', position: msg.seq, reason: `not JSON (${(err as Error).message})`, raw });
    }
  }
  return out;
}

const positionIn = (text: string): number | null => {
  const m = /"position"\s*:\s*(\d+)/.exec(text);
  return m ? Number(m[1]) : null;
};

/**
 * The commits of an NDJSON export, one stored commit (with its position) per line.
 * Blank lines are skipped; a line that is not a JSON object is `unparseable`, with its
 * line number and, if the text names one, its position.
 */
export async function* readNdjsonCommits(path: string, range: LogRange = {}): AsyncGenerator<AuditItem> {
  const file = await open(path);
  try {
    let line = 0;
    for await (const text of file.readLines()) {
      line++;
      if (text.trim() === '') continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        yield {
          kind: 'unparseable',
          position: positionIn(text),
          line,
          reason: `not JSON (${(err as Error).message})`,
          raw: text,
        };
        continue;
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        yield { kind: 'unparseable', position: positionIn(text), line, reason: 'not a JSON object', raw: text };
        continue;
      }
      const record = value as Partial<StoredCommit> & { unparseable?: string; raw?: string };
      const position = typeof record.position === 'number' ? record.position : null;
      if (
        position !== null &&
        ((range.from !== undefined && position < range.from) || (range.to !== undefined && position > range.to))
      ) {
        continue;
      }
      if (typeof record.unparseable === 'string') {
        // An export keeps an undecodable stored message as {position, unparseable, raw}.
        yield { kind: 'unparseable', position, line, reason: record.unparseable, raw: record.raw ?? '' };
        continue;
      }
      yield { kind: 'commit', commit: value as StoredCommit, line };
    }
  } finally {
    await file.close();
  }
}
