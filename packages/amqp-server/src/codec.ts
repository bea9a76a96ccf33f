import { AmqpError } from './errors.js';
import { type ArgType, basicProperties, type MethodName, type MethodSpec, methodSpecs, ReplyCode } from './spec.js';
import { type FieldTable, Reader, Writer } from './wire.js';

export type { FieldTable, FieldValue } from './wire.js';

export type Args = Record<string, unknown>;

export interface Method {
  spec: MethodSpec;
  args: Args;
}

const byId = new Map<number, MethodSpec>(
  Object.values(methodSpecs).map((s: MethodSpec) => [(s.classId << 16) | s.methodId, s]),
);

function readArg(r: Reader, type: ArgType): unknown {
  switch (type) {
    case 'octet':
      return r.octet();
    case 'short':
      return r.short();
    case 'long':
      return r.long();
    case 'longlong':
    case 'timestamp':
      return r.longlong();
    case 'shortstr':
      return r.shortstr();
    case 'longstr':
      return r.longstrBytes();
    case 'table':
      return r.table();
    case 'bit':
      throw new Error('bits are packed by the caller');
  }
}

/**
 * Decodes a method frame's payload; an unknown class or method is a connection error, and so
 * are field tables nested deeper than `maxTableDepth` (502).
 */
export function decodeMethod(payload: Buffer, maxTableDepth?: number): Method {
  const r = new Reader(payload, maxTableDepth);
  const classId = r.short();
  const methodId = r.short();
  const spec = byId.get((classId << 16) | methodId);
  if (!spec) {
    throw new AmqpError(
      ReplyCode.COMMAND_INVALID,
      `COMMAND_INVALID - unknown method ${classId}.${methodId}`,
      'connection',
    );
  }
  const args: Args = {};
  let bitByte = 0;
  let bit = 8;
  for (const [name, type] of spec.args) {
    if (type === 'bit') {
      if (bit === 8) {
        bitByte = r.octet();
        bit = 0;
      }
      args[name] = (bitByte & (1 << bit++)) !== 0;
      continue;
    }
    bit = 8;
    args[name] = readArg(r, type);
  }
  return { spec, args };
}

/** Encodes a method's payload (class id, method id, arguments); missing arguments are zero or empty. */
export function encodeMethod(name: MethodName, args: Args = {}): Buffer {
  const spec: MethodSpec = methodSpecs[name];
  const w = new Writer();
  w.short(spec.classId);
  w.short(spec.methodId);
  let bits: boolean[] = [];
  const flushBits = () => {
    if (bits.length === 0) return;
    w.octet(bits.reduce((acc, b, i) => acc | ((b ? 1 : 0) << i), 0));
    bits = [];
  };
  for (const [argName, type] of spec.args) {
    const v = args[argName];
    if (type === 'bit') {
      bits.push(v === true);
      continue;
    }
    flushBits();
    switch (type) {
      case 'octet':
        w.octet(Number(v ?? 0));
        break;
      case 'short':
        w.short(Number(v ?? 0));
        break;
      case 'long':
        w.long(Number(v ?? 0));
        break;
      case 'longlong':
      case 'timestamp':
        w.longlong(typeof v === 'bigint' ? v : Number(v ?? 0));
        break;
      case 'shortstr':
        w.shortstr(String(v ?? ''));
        break;
      case 'longstr':
        w.longstr(Buffer.isBuffer(v) ? v : String(v ?? ''));
        break;
      case 'table':
        w.table(v as FieldTable | undefined);
        break;
    }
  }
  flushBits();
  return w.done();
}

export interface BasicProperties {
  contentType?: string;
  contentEncoding?: string;
  headers?: FieldTable;
  deliveryMode?: number;
  priority?: number;
  correlationId?: string;
  replyTo?: string;
  expiration?: string;
  messageId?: string;
  timestamp?: number;
  type?: string;
  userId?: string;
  appId?: string;
  clusterId?: string;
}

/** Decodes the property list of a basic content header (flags, then the present fields). */
export function decodeProperties(raw: Buffer, maxTableDepth?: number): BasicProperties {
  const r = new Reader(raw, maxTableDepth);
  const flags = r.short();
  const out: Record<string, unknown> = {};
  basicProperties.forEach(([name, type], i) => {
    if ((flags & (1 << (15 - i))) === 0) return;
    out[name] = type === 'table' ? r.table() : readArg(r, type as ArgType);
  });
  return out as BasicProperties;
}

export function encodeProperties(props: BasicProperties): Buffer {
  const w = new Writer();
  let flags = 0;
  const values = props as Record<string, unknown>;
  basicProperties.forEach(([name], i) => {
    if (values[name] !== undefined) flags |= 1 << (15 - i);
  });
  w.short(flags);
  for (const [name, type] of basicProperties) {
    const v = values[name];
    if (v === undefined) continue;
    if (type === 'shortstr') w.shortstr(String(v));
    else if (type === 'octet') w.octet(Number(v));
    else if (type === 'timestamp') w.longlong(Number(v));
    else w.table(v as FieldTable);
  }
  return w.done();
}
