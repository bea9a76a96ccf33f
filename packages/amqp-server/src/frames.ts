import { type Args, encodeMethod } from './codec.js';
import { frameError } from './errors.js';
import { FRAME_END, FrameType, type MethodName } from './spec.js';

export const PROTOCOL_HEADER = Buffer.from('AMQP\x00\x00\x09\x01', 'latin1');

export interface Frame {
  type: number;
  channel: number;
  payload: Buffer;
}

export function frame(type: number, channel: number, payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length + 8);
  out.writeUInt8(type, 0);
  out.writeUInt16BE(channel, 1);
  out.writeUInt32BE(payload.length, 3);
  payload.copy(out, 7);
  out.writeUInt8(FRAME_END, payload.length + 7);
  return out;
}

export const methodFrame = (channel: number, name: MethodName, args?: Args) =>
  frame(FrameType.METHOD, channel, encodeMethod(name, args));

export const heartbeatFrame = () => frame(FrameType.HEARTBEAT, 0, Buffer.alloc(0));

/** Content header and body frames of one message, the body split to fit `frameMax`. */
export function contentFrames(channel: number, properties: Buffer, body: Buffer, frameMax: number): Buffer[] {
  const header = Buffer.allocUnsafe(12 + properties.length);
  header.writeUInt16BE(60, 0);
  header.writeUInt16BE(0, 2);
  header.writeBigUInt64BE(BigInt(body.length), 4);
  properties.copy(header, 12);
  const out = [frame(FrameType.HEADER, channel, header)];
  const chunk = frameMax - 8;
  for (let at = 0; at < body.length; at += chunk) {
    out.push(frame(FrameType.BODY, channel, body.subarray(at, Math.min(body.length, at + chunk))));
  }
  return out;
}

/** Splits a byte stream into frames; throws a FRAME_ERROR connection exception on a malformed one. */
export class FrameParser {
  private buf: Buffer = Buffer.alloc(0);
  frameMax = 131072;

  push(data: Buffer): Frame[] {
    this.buf = this.buf.length === 0 ? data : Buffer.concat([this.buf, data]);
    const frames: Frame[] = [];
    let at = 0;
    while (this.buf.length - at >= 7) {
      const size = this.buf.readUInt32BE(at + 3);
      if (size + 8 > this.frameMax) throw frameError(`frame size ${size + 8} exceeds frame_max ${this.frameMax}`);
      if (this.buf.length - at < size + 8) break;
      if (this.buf[at + 7 + size] !== FRAME_END) throw frameError('frame end octet missing');
      frames.push({
        type: this.buf.readUInt8(at),
        channel: this.buf.readUInt16BE(at + 1),
        payload: this.buf.subarray(at + 7, at + 7 + size),
      });
      at += size + 8;
    }
    this.buf = at === this.buf.length ? Buffer.alloc(0) : this.buf.subarray(at);
    return frames;
  }
}
