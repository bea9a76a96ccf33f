/** AMQP 0-9-1 primitive types: integers, short and long strings, field tables. */
import { AmqpError } from './errors.js';
import { ReplyCode } from './spec.js';

const syntax = (what: string) => new AmqpError(ReplyCode.SYNTAX_ERROR, `SYNTAX_ERROR - ${what}`, 'connection');

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

const tableTypes = new WeakMap<FieldTable, Record<string, string>>();

/**
 * The wire type tag (`S`, `I`, `l`, `t`, …) of each field of a decoded table: RabbitMQ
 * checks queue arguments by their wire type (an `x-message-ttl` sent as a string is 406).
 */
export function fieldTypesOf(table: FieldTable): Record<string, string> | undefined {
  return tableTypes.get(table);
}

/** Sequential reader over one frame payload; every overrun is a syntax error. */
export class Reader {
  offset = 0;
  private depth = 0;
  /** `maxDepth` bounds how deep field tables and arrays nest (a deep one would overflow the stack). */
  constructor(
    readonly buf: Buffer,
    private readonly maxDepth = Number.POSITIVE_INFINITY,
  ) {}
  private enter(what: string) {
    if (++this.depth > this.maxDepth) throw syntax(`${what} nested deeper than ${this.maxDepth} levels`);
  }
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
    this.enter('field table');
    const out: FieldTable = {};
    const types: Record<string, string> = {};
    tableTypes.set(out, types);
    while (this.offset < end) {
      const key = this.shortstr();
      types[key] = String.fromCharCode(this.buf[this.offset] ?? 0);
      const value = this.fieldValue();
      // A `__proto__` key is data, not the object's prototype.
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
    }
    this.depth--;
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
        if (end > this.buf.length) throw syntax('field array overruns the frame');
        this.enter('field array');
        const arr: FieldValue[] = [];
        while (this.offset < end) arr.push(this.fieldValue());
        this.depth--;
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
