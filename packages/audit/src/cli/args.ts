import { parseArgs } from 'node:util';

export type CliCommand =
  | { command: 'help' }
  | { command: 'verify'; from?: number; to?: number; file?: string; json: boolean; chain: boolean }
  | { command: 'prove'; position: number }
  | { command: 'check-proof'; file: string; chain: boolean }
  | {
      command: 'export';
      from?: number;
      to?: number;
      aggregate?: { aggregateType: string; aggregateId: string };
      out?: string;
    }
  | { command: 'skip'; projection: string; position: number; reason: string; actor?: string };

/** A mistake in the command line: printed with the usage, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const usage = `Usage:
  lightdom audit verify [--from N] [--to N] [--json]     check every hash chain of the live log
  lightdom audit verify --file F [--from N] [--to N] [--json]
                                                        check an NDJSON export offline (with --chain,
                                                        also against the anchored checkpoint roots)
  lightdom audit verify --chain [--json]                check every recorded checkpoint against the log
                                                        (recomputing each root) and the contract
  lightdom audit prove <position>                       print the inclusion proof of one commit (JSON)
  lightdom audit check-proof <file> [--chain]           check a proof offline; --chain: also on chain
  lightdom audit export [--from N] [--to N] [--aggregate type:id] [--out F]
                                                        write the log as NDJSON (stdout by default)
  lightdom projections skip <name> <position> --reason "…" [--actor A]
                                                        record the decision that projection <name> may
                                                        pass over the commit at <position>, which it
                                                        cannot apply (see docs/projections.md)

Positions are JetStream stream sequences; --from and --to are inclusive.
Environment: NATS_URL (nats://127.0.0.1:4222), EVENTS_STREAM (EVENTS),
EVENTS_SUBJECT_PREFIX (events); for --chain and prove: CHAIN_RPC_URL, AUDIT_ANCHOR_ADDRESS;
each also as <NAME>_FILE.
Exit codes: 0 verified clean (or exported, or the decision recorded), 1 violations found,
2 usage, configuration or connection error (nothing was verified or recorded).
`;

function position(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`--${name} must be a position (a whole number from 1), got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

function aggregateRef(value: string | undefined) {
  if (value === undefined) return undefined;
  const m = /^([A-Za-z0-9_-]+):([A-Za-z0-9_-]+)$/.exec(value);
  if (!m) throw new UsageError(`--aggregate must be type:id, e.g. campaign:3f2a…, got ${JSON.stringify(value)}`);
  return { aggregateType: m[1]!, aggregateId: m[2]! };
}

function skipPosition(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1 || !Number.isSafeInteger(Number(value))) {
    throw new UsageError(`<position> must be a position (a whole number from 1), got ${JSON.stringify(value)}`);
  }
  return Number(value);
}

function parseSkip(args: string[], values: ReturnType<typeof parse>['values']): CliCommand {
  const [projection, at, ...extra] = args;
  if (projection === undefined || at === undefined) {
    throw new UsageError('projections skip needs a projection name and a position');
  }
  if (extra.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(extra[0])}`);
  if (!/^[A-Za-z0-9_-]{1,100}$/.test(projection)) {
    throw new UsageError(`The projection name must be letters, digits, _ or -, got ${JSON.stringify(projection)}`);
  }
  for (const flag of ['from', 'to', 'file', 'json', 'aggregate', 'out', 'chain'] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} does not belong to projections skip`);
  }
  const reason = values.reason?.trim();
  if (!reason) throw new UsageError('projections skip needs --reason "why this commit may be skipped"');
  if (values.actor === '') throw new UsageError('--actor needs a name');
  return {
    command: 'skip',
    projection,
    position: skipPosition(at),
    reason,
    ...(values.actor ? { actor: values.actor } : {}),
  };
}

/** Parses `audit verify|export …` and `projections skip …`; throws UsageError on anything it does not understand. */
export function parseCliArgs(argv: string[]): CliCommand {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return { command: 'help' };
  if (positionals.length === 0) throw new UsageError('No command given');
  const [group, sub, ...extra] = positionals;
  if (group === 'projections' && sub === 'skip') return parseSkip(extra, values);
  for (const flag of ['reason', 'actor'] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} belongs to projections skip`);
  }
  if (group === 'audit' && (sub === 'prove' || sub === 'check-proof')) {
    const [arg, ...more] = extra;
    if (arg === undefined)
      throw new UsageError(`audit ${sub} needs ${sub === 'prove' ? 'a position' : 'a proof file'}`);
    if (more.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(more[0])}`);
    for (const flag of ['from', 'to', 'file', 'json', 'aggregate', 'out'] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} does not belong to audit ${sub}`);
    }
    if (sub === 'prove') {
      if (values.chain !== undefined) throw new UsageError('--chain does not belong to audit prove');
      return { command: 'prove', position: skipPosition(arg) };
    }
    return { command: 'check-proof', file: arg, chain: values.chain ?? false };
  }
  if (group !== 'audit' || (sub !== 'verify' && sub !== 'export')) {
    throw new UsageError(`Unknown command ${JSON.stringify(positionals.slice(0, 2).join(' '))}`);
  }
  if (extra.length > 0) throw new UsageError(`Unexpected argument ${JSON.stringify(extra[0])}`);
  const from = position('from', values.from);
  const to = position('to', values.to);
  if (from !== undefined && to !== undefined && from > to) throw new UsageError('--from must not be after --to');
  const range = { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) };

  if (sub === 'verify') {
    for (const flag of ['aggregate', 'out'] as const) {
      if (values[flag] !== undefined) throw new UsageError(`--${flag} belongs to audit export`);
    }
    if (values.file === '') throw new UsageError('--file needs a path');
    return {
      command: 'verify',
      ...range,
      ...(values.file ? { file: values.file } : {}),
      json: values.json ?? false,
      chain: values.chain ?? false,
    };
  }
  for (const flag of ['file', 'json', 'chain'] as const) {
    if (values[flag] !== undefined) throw new UsageError(`--${flag} belongs to audit verify`);
  }
  const aggregate = aggregateRef(values.aggregate);
  if (values.out === '') throw new UsageError('--out needs a path');
  return {
    command: 'export',
    ...range,
    ...(aggregate ? { aggregate } : {}),
    ...(values.out ? { out: values.out } : {}),
  };
}

const parse = (argv: string[]) =>
  parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      from: { type: 'string' },
      to: { type: 'string' },
      file: { type: 'string' },
      json: { type: 'boolean' },
      chain: { type: 'boolean' },
      aggregate: { type: 'string' },
      out: { type: 'string' },
      reason: { type: 'string' },
      actor: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
