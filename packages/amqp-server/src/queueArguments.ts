import { preconditionFailed } from './errors.js';

/**
 * Queue arguments checked as RabbitMQ 3.10 checks them at `queue.declare`: by wire type and
 * value, with its reply texts (read from the real broker in the compatibility harness).
 * Unknown `x-` arguments are accepted and kept, as RabbitMQ does.
 */

/** RabbitMQ's names of the field-table wire types, by tag. */
const typeNames: Record<string, string> = {
  t: 'bool',
  b: 'byte',
  B: 'unsignedbyte',
  s: 'short',
  u: 'unsignedshort',
  I: 'signedint',
  i: 'unsignedint',
  l: 'long',
  f: 'float',
  d: 'double',
  D: 'decimal',
  S: 'longstr',
  x: 'binary',
  T: 'timestamp',
  F: 'table',
  A: 'array',
  V: 'void',
};

const integerTypes = new Set(['byte', 'short', 'signedint', 'long', 'unsignedbyte', 'unsignedshort', 'unsignedint']);

/** An argument as RabbitMQ sees it: its wire type name and value. */
interface Typed {
  type: string;
  value: unknown;
}

/** The wire type name of a value whose tag is unknown (arguments restored from JSON). */
function inferType(v: unknown): string {
  if (typeof v === 'string') return 'longstr';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'long';
  if (typeof v === 'number') return Number.isInteger(v) ? 'long' : 'double';
  if (v === null || v === undefined) return 'void';
  if (Array.isArray(v)) return 'array';
  return 'table';
}

export type ArgumentTypes = Record<string, string>;

function typed(args: Record<string, unknown>, types: ArgumentTypes | undefined, key: string): Typed | undefined {
  if (!Object.hasOwn(args, key)) return undefined;
  const value = args[key];
  const tag = types?.[key];
  return { type: (tag && typeNames[tag]) ?? inferType(value), value };
}

/** Erlang's `~p` of a reason term, as RabbitMQ prints it after `invalid arg … :`. */
type Reason = string;
const tuple = (...parts: (string | number | bigint)[]) => `{${parts.join(',')}}`;
const quoted = (s: string) => `"${s}"`;

const intCheck = (a: Typed): Reason | undefined =>
  integerTypes.has(a.type) ? undefined : quoted(`expected integer, got ${a.type}`);
const asNumber = (v: unknown) => (typeof v === 'bigint' ? Number(v) : Number(v));

type Check = (a: Typed, args: Record<string, unknown>) => Reason | undefined;

const nonNegativeInt: Check = (a) =>
  intCheck(a) ?? (asNumber(a.value) < 0 ? tuple('value_negative', String(a.value)) : undefined);

/** RabbitMQ's declare_args, in its order (the first failing one is reported). */
const checks: [string, Check][] = [
  ['x-expires', (a) => intCheck(a) ?? (asNumber(a.value) === 0 ? tuple('value_zero', 0) : nonNegativeInt(a, {}))],
  ['x-message-ttl', nonNegativeInt],
  ['x-dead-letter-exchange', () => undefined],
  [
    'x-dead-letter-routing-key',
    (a, args) =>
      a.type !== 'longstr'
        ? tuple('unacceptable_type', a.type)
        : Object.hasOwn(args, 'x-dead-letter-exchange')
          ? undefined
          : 'routing_key_but_no_dlx_defined',
  ],
  ['x-max-length', nonNegativeInt],
  ['x-max-length-bytes', nonNegativeInt],
  ['x-max-in-memory-length', nonNegativeInt],
  ['x-max-in-memory-bytes', nonNegativeInt],
  [
    'x-max-priority',
    (a) =>
      intCheck(a) ??
      (asNumber(a.value) < 0
        ? tuple('value_negative', String(a.value))
        : asNumber(a.value) > 255
          ? tuple('max_value_exceeded', String(a.value))
          : undefined),
  ],
  [
    'x-overflow',
    (a) =>
      a.type !== 'longstr'
        ? tuple('unacceptable_type', a.type)
        : ['drop-head', 'reject-publish', 'reject-publish-dlx'].includes(String(a.value))
          ? undefined
          : 'invalid_overflow',
  ],
  [
    'x-queue-mode',
    (a) =>
      a.type !== 'longstr'
        ? tuple('unacceptable_type', a.type)
        : ['default', 'lazy'].includes(String(a.value))
          ? undefined
          : quoted(`unsupported queue mode '${String(a.value)}'`),
  ],
  ['x-single-active-consumer', (a) => (a.type === 'bool' ? undefined : tuple('unacceptable_type', a.type))],
];

/** The arguments RabbitMQ compares when a queue is declared again. */
const equivalenceKeys = [...checks.map(([k]) => k), 'x-queue-type'];

/** Refuses arguments RabbitMQ refuses: 406 with its text. `queue` is `queue 'name' in vhost '/'`. */
export function checkQueueArguments(queue: string, args: Record<string, unknown>, types: ArgumentTypes | undefined) {
  const dlx = typed(args, types, 'x-dead-letter-exchange');
  if (dlx && dlx.type !== 'longstr') {
    throw preconditionFailed(`invalid type '${dlx.type}' for arg 'x-dead-letter-exchange' in ${queue}`);
  }
  for (const [key, check] of checks) {
    const a = typed(args, types, key);
    if (!a) continue;
    const reason = check(a, args);
    if (reason !== undefined) throw preconditionFailed(`invalid arg '${key}' for ${queue}: ${reason}`);
  }
}

const integerClass = (type: string) => (integerTypes.has(type) ? 'int' : type);

/** RabbitMQ's type class of a field (every integer type is `int`), from its tag or its value. */
export function typeClassOf(tag: string | undefined, value: unknown): string {
  return integerClass((tag && typeNames[tag]) ?? inferType(value));
}
const plain = (a: Typed) => `'${String(a.value)}'`;
const described = (a: Typed | undefined) => (a ? `the value '${String(a.value)}' of type '${a.type}'` : 'none');

/**
 * 406 when a redeclare's arguments differ from the queue's (or exchange's), in RabbitMQ's
 * words; `what` is `queue 'name' in vhost '/'`, `keys` the arguments RabbitMQ compares.
 */
export function assertEquivalentArguments(
  what: string,
  received: { args: Record<string, unknown>; types: ArgumentTypes | undefined },
  current: { args: Record<string, unknown>; types: ArgumentTypes | undefined },
  keys: readonly string[] = equivalenceKeys,
) {
  const queue = what;
  for (const key of keys) {
    const now = typed(current.args, current.types, key);
    const next = typed(received.args, received.types, key);
    if (!now && !next) continue;
    if (now && next) {
      if (integerClass(now.type) === integerClass(next.type) && String(now.value) === String(next.value)) continue;
      throw preconditionFailed(
        `inequivalent arg '${key}' for ${queue}: received ${plain(next)} but current is ${plain(now)}`,
      );
    }
    throw preconditionFailed(
      `inequivalent arg '${key}' for ${queue}: received ${described(next)} but current is ${described(now)}`,
    );
  }
}
