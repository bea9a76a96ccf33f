import { AmqpError } from './errors.js';
import { type ArgType, basicProperties, type MethodName, type MethodSpec, methodSpecs, ReplyCode } from './spec.js';

/** A field-table value as decoded: numbers, strings, booleans, nested tables and arrays. */
export type FieldValue =
  | string
  | number
  | bigint
  | boolean
  | null
  | Date
  | Buffer
  | FieldValue[]
  | { [key: string]: FieldValue };
export type FieldTable = Record<string, FieldValue>;

export type Args = Record<string, unknown>;

export interface Method {
  spec: MethodSpec;
  args: Args;
}

const syntax = (what: string) => new AmqpError(ReplyCode.SYNTAX_ERROR, `SYNTAX_ERROR - ${what}`, 'connection');

/** Sequential reader over one frame payload; every overrun is a syntax error. */
export class Reader {
  offset = 0;
  constructor(readonly buf: Buffer) {}
  private need(n: number) {
    if (this.offset + n > this.buf.length) throw syntax('frame payload too short');
  }
  octet() {
    this.need(1);
    return this.buf.readUInt8(this.offset++);
  }
  short() {
    this.need(2);
    const v = this.buf.readUInt16BE(this.offset);
    this.offset += 2;
    return v;
  }
  long() {
    this.need(4);
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  longlong() {
    this.need(8);
    const v = this.buf.readBigUInt64BE(this.offset);
    this.offset += 8;
    return Number(v);
  }
  bytes(n: number) {
    this.need(n);
    const v = this.buf.subarray(this.offset, this.offset + n);
    this.offset += n;
    return v;
  }
  shortstr() {
    return this.bytes(this.octet()).toString('utf8');
  }
  longstrBytes() {
    return this.bytes(this.long());
  }
  table(): FieldTable {
    const end = this.long() + this.offset;
    if (end > this.buf.length) throw syntax('field table overruns the frame');
    const out: FieldTable = {};
    while (this.offset < end) {
      const key = this.shortstr();
      out[key] = this.fieldValue();
    }
    return out;
  }
  private fieldValue(): FieldValue {
    const t = String.fromCharCode(this.octet());
    switch (t) {
      case 't':
        return this.octet() !== 0;
      case 'b':
        this.need(1);
        return this.buf.readInt8(this.offset++);
      case 'B':
        return this.octet();
      case 's':
        this.need(2);
        this.offset += 2;
        return this.buf.readInt16BE(this.offset - 2);
      case 'u':
        return this.short();
      case 'I':
        this.need(4);
        this.offset += 4;
        return this.buf.readInt32BE(this.offset - 4);
      case 'i':
        return this.long();
      case 'l': {
        this.need(8);
        this.offset += 8;
        const v = this.buf.readBigInt64BE(this.offset - 8);
        return Number.isSafeInteger(Number(v)) ? Number(v) : v;
      }
      case 'f':
        this.need(4);
        this.offset += 4;
        return this.buf.readFloatBE(this.offset - 4);
      case 'd':
        this.need(8);
        this.offset += 8;
        return this.buf.readDoubleBE(this.offset - 8);
      case 'D': {
        const scale = this.octet();
        this.need(4);
        this.offset += 4;
        return this.buf.readInt32BE(this.offset - 4) / 10 ** scale;
      }
      case 'S':
        return this.longstrBytes().toString('utf8');
      case 'x':
        return Buffer.from(this.longstrBytes());
      case 'T':
        return new Date(this.longlong() * 1000);
      case 'F':
        return this.table();
      case 'A': {
        const end = this.long() + this.offset;
        const arr: FieldValue[] = [];
        while (this.offset < end) arr.push(this.fieldValue());
        return arr;
      }
      case 'V':
        return null;
      default:
        throw syntax(`unknown field value type '${t}'`);
    }
  }
}

/** Growable writer; `done()` returns the bytes written. */
export class Writer {
  private buf = Buffer.allocUnsafe(256);
  offset = 0;
  private ensure(n: number) {
    if (this.offset + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.offset + n));
    this.buf.copy(next, 0, 0, this.offset);
    this.buf = next;
  }
  octet(v: number) {
    this.ensure(1);
    this.buf.writeUInt8(v & 0xff, this.offset++);
  }
  short(v: number) {
    this.ensure(2);
    this.buf.writeUInt16BE(v & 0xffff, this.offset);
    this.offset += 2;
  }
  long(v: number) {
    this.ensure(4);
    this.buf.writeUInt32BE(v >>> 0, this.offset);
    this.offset += 4;
  }
  longlong(v: number | bigint) {
    this.ensure(8);
    this.buf.writeBigUInt64BE(BigInt(v), this.offset);
    this.offset += 8;
  }
  bytes(b: Buffer) {
    this.ensure(b.length);
    b.copy(this.buf, this.offset);
    this.offset += b.length;
  }
  shortstr(s: string) {
    const b = Buffer.from(s, 'utf8');
    if (b.length > 255) throw new Error(`short string longer than 255 bytes: ${s.slice(0, 40)}…`);
    this.octet(b.length);
    this.bytes(b);
  }
  longstr(v: string | Buffer) {
    const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
    this.long(b.length);
    this.bytes(b);
  }
  table(t: FieldTable | undefined) {
    const at = this.offset;
    this.long(0);
    for (const [k, v] of Object.entries(t ?? {})) {
      if (v === undefined) continue;
      this.shortstr(k);
      this.fieldValue(v);
    }
    this.buf.writeUInt32BE(this.offset - at - 4, at);
  }
  private fieldValue(v: FieldValue) {
    const tag = (c: string) => this.octet(c.charCodeAt(0));
    if (v === null) tag('V');
    else if (typeof v === 'string') {
      tag('S');
      this.longstr(v);
    } else if (typeof v === 'boolean') {
      tag('t');
      this.octet(v ? 1 : 0);
    } else if (typeof v === 'bigint') {
      tag('l');
      this.ensure(8);
      this.buf.writeBigInt64BE(v, this.offset);
      this.offset += 8;
    } else if (typeof v === 'number') {
      if (Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) {
        tag('I');
        this.ensure(4);
        this.buf.writeInt32BE(v, this.offset);
        this.offset += 4;
      } else if (Number.isSafeInteger(v)) {
        tag('l');
        this.ensure(8);
        this.buf.writeBigInt64BE(BigInt(v), this.offset);
        this.offset += 8;
      } else {
        tag('d');
        this.ensure(8);
        this.buf.writeDoubleBE(v, this.offset);
        this.offset += 8;
      }
    } else if (v instanceof Date) {
      tag('T');
      this.longlong(Math.floor(v.getTime() / 1000));
    } else if (Buffer.isBuffer(v)) {
      tag('x');
      this.longstr(v);
    } else if (Array.isArray(v)) {
      tag('A');
      const at = this.offset;
      this.long(0);
      for (const item of v) this.fieldValue(item);
      this.buf.writeUInt32BE(this.offset - at - 4, at);
    } else {
      tag('F');
      this.table(v);
    }
  }
  done() {
    return this.buf.subarray(0, this.offset);
  }
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

/** Decodes a method frame's payload; an unknown class or method is a connection error. */
export function decodeMethod(payload: Buffer): Method {
  const r = new Reader(payload);
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
export function decodeProperties(raw: Buffer): BasicProperties {
  const r = new Reader(raw);
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
