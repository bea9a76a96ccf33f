import { connect, type Socket } from 'node:net';
import { type Args, decodeMethod, encodeMethod } from '../../packages/amqp-server/src/codec.js';
import { type Frame, FrameParser, frame, methodFrame, PROTOCOL_HEADER } from '../../packages/amqp-server/src/frames.js';
import { FrameType, type MethodName } from '../../packages/amqp-server/src/spec.js';

/** A received frame, with the method's name and arguments when it is a method frame. */
export interface RawFrame extends Frame {
  method?: string;
  args?: Args;
}

/**
 * A byte-level AMQP 0-9-1 client for hostile tests: it sends exactly what a test builds
 * (split headers, trickled bytes, unfinished publishes, deep tables) and records every
 * frame the server sends, and when the socket closed.
 */
export class RawAmqp {
  readonly frames: RawFrame[] = [];
  /** Bytes before the first frame (a protocol header sent back by the server). */
  raw = Buffer.alloc(0);
  readonly openedAt = performance.now();
  closedAt: number | undefined;
  readonly closed: Promise<number>;
  private readonly parser = new FrameParser();
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    this.parser.frameMax = 1 << 24;
    socket.on('data', (d) => {
      if (this.frames.length === 0 && this.raw.length < 8 && d.subarray(0, 4).toString('latin1') === 'AMQP') {
        this.raw = Buffer.concat([this.raw, d]);
      } else {
        for (const f of this.parser.push(d)) {
          const rf: RawFrame = { ...f };
          if (f.type === FrameType.METHOD) {
            const m = decodeMethod(f.payload);
            rf.method = m.spec.name;
            rf.args = m.args;
          }
          this.frames.push(rf);
        }
      }
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.closedAt = performance.now();
        this.wake();
        resolve(this.closedAt - this.openedAt);
      }),
    );
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawAmqp> {
    return new Promise((resolve, reject) => {
      const s = connect(port, host);
      s.setNoDelay(true);
      s.once('connect', () => resolve(new RawAmqp(s)));
      s.once('error', reject);
    });
  }

  private wake() {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves with the first received frame that matches, or rejects after `timeoutMs` or a close. */
  waitFor(pred: (f: RawFrame) => boolean, timeoutMs = 5000): Promise<RawFrame> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching frame in ${timeoutMs} ms`)), timeoutMs);
      const check = () => {
        const f = this.frames.find(pred);
        if (f) {
          clearTimeout(timer);
          resolve(f);
        } else if (this.closedAt !== undefined) {
          clearTimeout(timer);
          reject(new Error(`closed without a matching frame; got ${this.frames.map((x) => x.method).join(',')}`));
        } else this.waiters.push(check);
      };
      check();
    });
  }

  waitMethod(name: MethodName, timeoutMs?: number) {
    return this.waitFor((f) => f.method === name, timeoutMs);
  }

  /** Writes bytes; resolves when the socket has taken them (backpressure), false once it closed. */
  write(b: Buffer): Promise<boolean> {
    if (this.socket.destroyed || this.closedAt !== undefined) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.socket.write(b, (err) => resolve(!err && !this.socket.destroyed));
    });
  }

  method(channel: number, name: MethodName, args?: Args) {
    return this.write(methodFrame(channel, name, args));
  }

  /** Header, start-ok (guest/guest), tune-ok and open; resolves after open-ok. */
  async handshake(opts: { heartbeat?: number; clientProperties?: Args; frameMax?: number } = {}) {
    await this.write(PROTOCOL_HEADER);
    await this.waitMethod('connection.start');
    await this.write(startOk(encodeTable(opts.clientProperties ?? {})));
    const tune = await this.waitMethod('connection.tune');
    await this.method(0, 'connection.tuneOk', {
      channelMax: tune.args?.channelMax,
      frameMax: opts.frameMax ?? tune.args?.frameMax,
      heartbeat: opts.heartbeat ?? 0,
    });
    await this.method(0, 'connection.open', { virtualHost: '/' });
    await this.waitMethod('connection.openOk');
  }

  destroy() {
    this.socket.destroy();
  }
}

/** A field table as bytes (length-prefixed), through the gateway's own encoder. */
export function encodeTable(t: Args): Buffer {
  // connection.start-ok's first argument is the client-properties table: cut it out.
  const payload = encodeMethod('connection.startOk', { clientProperties: t });
  const len = payload.readUInt32BE(4);
  return payload.subarray(4, 8 + len);
}

/** A field table holding one key whose value is a table, `depth` levels down (7 bytes a level). */
export function nestedTable(depth: number): Buffer {
  const buf = Buffer.alloc(4 + 7 * depth);
  for (let i = 0; i < depth; i++) {
    const at = 7 * i;
    buf.writeUInt32BE(7 * (depth - i), at);
    buf[at + 4] = 1;
    buf[at + 5] = 0x61; // key "a"
    buf[at + 6] = 0x46; // 'F': a nested table
  }
  return buf;
}

/** A connection.start-ok frame with these client properties (raw table bytes), PLAIN guest/guest. */
export function startOk(clientProperties: Buffer): Buffer {
  const mechanism = Buffer.from('PLAIN');
  const response = Buffer.from('\0guest\0guest');
  const locale = Buffer.from('en_US');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(response.length);
  const payload = Buffer.concat([
    Buffer.from([0, 10, 0, 11]),
    clientProperties,
    Buffer.from([mechanism.length]),
    mechanism,
    len,
    response,
    Buffer.from([locale.length]),
    locale,
  ]);
  return frame(FrameType.METHOD, 0, payload);
}

/**
 * A queue.declare frame whose arguments table is `args` (raw bytes): ticket, queue name,
 * the flag octet, then the table.
 */
export function queueDeclareWithArgs(channel: number, queue: string, args: Buffer): Buffer {
  const name = Buffer.from(queue);
  const payload = Buffer.concat([Buffer.from([0, 50, 0, 10, 0, 0, name.length]), name, Buffer.from([0]), args]);
  return frame(FrameType.METHOD, channel, payload);
}

/** A content header for class 60 with a body of `size` bytes and the given raw property list. */
export function contentHeader(channel: number, size: number, properties = Buffer.from([0, 0])): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(60, 0);
  header.writeBigUInt64BE(BigInt(size), 4);
  return frame(FrameType.HEADER, channel, Buffer.concat([header, properties]));
}

export const bodyFrame = (channel: number, body: Buffer) => frame(FrameType.BODY, channel, body);
