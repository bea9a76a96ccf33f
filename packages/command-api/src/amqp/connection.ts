import type { Socket } from 'node:net';
import type { Logger } from '@lightdom/events';
import type { Broker } from './broker.js';
import { Channel, type ChannelHost } from './channel.js';
import { type Args, type BasicProperties, decodeMethod } from './codec.js';
import { AmqpError, channelError, commandInvalid, notAllowed, unexpectedFrame } from './errors.js';
import { contentFrames, type Frame, FrameParser, heartbeatFrame, methodFrame, PROTOCOL_HEADER } from './frames.js';
import type { AmqpMetrics } from './metrics.js';
import { FRAME_MIN_SIZE, FrameType, type MethodName } from './spec.js';

export interface ConnectionOptions {
  /** Largest frame the server accepts and offers, in bytes. */
  frameMax: number;
  /** Heartbeat the server proposes, in seconds; 0 turns heartbeats off unless the client asks. */
  heartbeatSeconds: number;
  channelMax: number;
  /** Checks PLAIN credentials; resolves with the actor, or undefined to refuse. */
  authenticate(username: string, password: string): string | undefined;
  runCommand(body: Buffer, props: BasicProperties, actor: string): Promise<{ properties: Buffer; body: Buffer }>;
  /** Socket bytes buffered before consumers pause. */
  highWaterMark: number;
  /** Largest message body accepted, in bytes. */
  maxMessageBytes: number;
  metrics: AmqpMetrics;
}

const serverProperties = {
  product: 'LightDom AMQP gateway',
  version: '0.1.0',
  platform: `Node.js ${process.version}`,
  capabilities: {
    publisher_confirms: true,
    exchange_exchange_bindings: false,
    'basic.nack': true,
    consumer_cancel_notify: true,
    'connection.blocked': false,
    consumer_priorities: false,
    authentication_failure_close: true,
    per_consumer_qos: true,
    direct_reply_to: true,
  },
};

/** One client connection: handshake, heartbeats, channel multiplexing, connection exceptions. */
export class Connection implements ChannelHost {
  private state: 'header' | 'start' | 'tune' | 'open' | 'running' | 'closing' | 'closed' = 'header';
  private readonly parser = new FrameParser();
  private readonly channels = new Map<number, Channel>();
  actor = 'anonymous';
  frameMax: number;
  private channelMax: number;
  private heartbeat = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastRecv = Date.now();
  private lastSend = Date.now();
  private corked = false;
  readonly owner = this;
  get maxMessageBytes() {
    return this.options.maxMessageBytes;
  }
  get metrics() {
    return this.options.metrics;
  }

  constructor(
    private readonly socket: Socket,
    readonly broker: Broker,
    private readonly options: ConnectionOptions,
    readonly logger: Logger,
    private readonly onClosed: (c: Connection) => void,
  ) {
    this.frameMax = options.frameMax;
    this.channelMax = options.channelMax;
    socket.setNoDelay(true);
    socket.on('data', (data) => this.onData(data));
    socket.on('drain', () => {
      for (const ch of this.channels.values()) ch.drainAll();
    });
    socket.on('error', (err) => this.logger.debug({ err }, 'AMQP socket error'));
    socket.on('close', () => this.teardown());
    // A client that never finishes the handshake is dropped.
    socket.setTimeout(10_000, () => {
      if (this.state !== 'running') socket.destroy();
    });
  }

  private onData(data: Buffer) {
    this.lastRecv = Date.now();
    try {
      if (this.state === 'header') {
        if (data.length < 8) {
          this.socket.end(PROTOCOL_HEADER);
          return;
        }
        if (!data.subarray(0, 8).equals(PROTOCOL_HEADER)) {
          this.socket.end(PROTOCOL_HEADER);
          this.state = 'closed';
          return;
        }
        this.state = 'start';
        this.sendMethod(0, 'connection.start', {
          versionMajor: 0,
          versionMinor: 9,
          serverProperties,
          mechanisms: 'PLAIN',
          locales: 'en_US',
        });
        data = data.subarray(8);
        if (data.length === 0) return;
      }
      if (this.state === 'closed') return;
      for (const f of this.parser.push(data)) this.onFrame(f);
    } catch (err) {
      this.fail(err);
    }
  }

  private onFrame(f: Frame) {
    if (f.type === FrameType.HEARTBEAT) return;
    if (this.state === 'closing') {
      if (f.type === FrameType.METHOD && f.channel === 0) {
        const { spec } = decodeMethod(f.payload);
        if (spec.name === 'connection.closeOk' || spec.name === 'connection.close') {
          if (spec.name === 'connection.close') this.sendMethod(0, 'connection.closeOk');
          this.socket.end();
        }
      }
      return;
    }
    if (f.channel === 0) {
      if (f.type !== FrameType.METHOD) throw unexpectedFrame(`frame type ${f.type} on channel 0`);
      const { spec, args } = decodeMethod(f.payload);
      this.connectionMethod(spec.name as MethodName, args);
      return;
    }
    if (this.state !== 'running') throw channelError(`channel ${f.channel} used before connection.open`);
    const ch = this.channels.get(f.channel);
    if (ch) {
      ch.receive(f);
      return;
    }
    if (f.type !== FrameType.METHOD) throw unexpectedFrame(`frame on closed channel ${f.channel}`);
    const { spec } = decodeMethod(f.payload);
    if (spec.name !== 'channel.open') {
      // A late frame for a channel that we closed: ignored, as RabbitMQ does for close-ok races.
      if (spec.name === 'channel.closeOk') return;
      throw channelError(`expected 'channel.open' on channel ${f.channel}, got '${spec.name}'`);
    }
    if (f.channel > this.channelMax) throw notAllowed(`channel ${f.channel} above channel_max ${this.channelMax}`);
    this.channels.set(f.channel, new Channel(f.channel, this));
    this.sendMethod(f.channel, 'channel.openOk');
  }

  private connectionMethod(name: MethodName, a: Args) {
    switch (name) {
      case 'connection.startOk': {
        if (this.state !== 'start') throw commandInvalid('unexpected connection.start-ok');
        const mechanism = String(a.mechanism);
        if (mechanism !== 'PLAIN') {
          return this.refuse(`ACCESS_REFUSED - unsupported authentication mechanism '${mechanism}'`);
        }
        const [, user = '', pass = ''] = (a.response as Buffer).toString('utf8').split('\0');
        const actor = this.options.authenticate(user, pass);
        if (!actor) {
          return this.refuse(
            'ACCESS_REFUSED - Login was refused using authentication mechanism PLAIN. For details see the broker logfile.',
          );
        }
        this.actor = actor;
        this.state = 'tune';
        this.sendMethod(0, 'connection.tune', {
          channelMax: this.options.channelMax,
          frameMax: this.options.frameMax,
          heartbeat: this.options.heartbeatSeconds,
        });
        return;
      }
      case 'connection.tuneOk': {
        if (this.state !== 'tune') throw commandInvalid('unexpected connection.tune-ok');
        const fm = Number(a.frameMax);
        if (fm !== 0 && fm < FRAME_MIN_SIZE) throw notAllowed(`frame_max=${fm} < ${FRAME_MIN_SIZE} min size`);
        if (fm > this.options.frameMax) {
          throw notAllowed(`frame_max=${fm} > ${this.options.frameMax} max size`);
        }
        this.frameMax = fm === 0 ? this.options.frameMax : fm;
        this.parser.frameMax = this.frameMax;
        const cm = Number(a.channelMax);
        this.channelMax = cm === 0 ? this.options.channelMax : Math.min(cm, this.options.channelMax);
        this.heartbeat = Number(a.heartbeat);
        this.state = 'open';
        this.startHeartbeats();
        return;
      }
      case 'connection.open': {
        if (this.state !== 'open') throw commandInvalid('unexpected connection.open');
        const vhost = String(a.virtualHost);
        if (vhost !== '/') throw notAllowed(`vhost ${vhost} not found`);
        this.state = 'running';
        this.socket.setTimeout(0);
        this.sendMethod(0, 'connection.openOk');
        return;
      }
      case 'connection.close': {
        // Frames sent before the close (acks above all) are handled first, as RabbitMQ does.
        this.state = 'closing';
        const channels = [...this.channels.values()];
        Promise.all(channels.map((ch) => ch.idle())).then(() => {
          this.releaseChannels();
          this.sendMethod(0, 'connection.closeOk');
          this.state = 'closed';
          this.socket.end();
        });
        return;
      }
      case 'connection.closeOk':
        this.socket.end();
        return;
      case 'connection.blocked':
      case 'connection.unblocked':
      case 'connection.updateSecretOk':
        return;
      default:
        throw commandInvalid(`unexpected method ${name} on channel 0`);
    }
  }

  /** Refuses a login: connection.close 403, then the socket closes (authentication_failure_close). */
  private refuse(text: string) {
    this.sendMethod(0, 'connection.close', { replyCode: 403, replyText: text, classId: 10, methodId: 11 });
    this.state = 'closing';
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  private startHeartbeats() {
    if (this.heartbeat <= 0) return;
    const ms = this.heartbeat * 1000;
    this.timer = setInterval(
      () => {
        const now = Date.now();
        if (now - this.lastRecv > 2 * ms) {
          this.logger.info({ actor: this.actor }, 'AMQP client missed heartbeats: closing');
          this.socket.destroy();
          return;
        }
        if (now - this.lastSend >= ms / 2) this.write(heartbeatFrame());
      },
      Math.max(250, ms / 2),
    );
    this.timer.unref();
  }

  private write(buf: Buffer) {
    if (this.socket.destroyed) return;
    this.lastSend = Date.now();
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.socket.write(buf);
  }

  sendMethod(channel: number, name: MethodName, args?: Args) {
    this.write(methodFrame(channel, name, args));
  }

  sendContent(channel: number, properties: Buffer, body: Buffer) {
    for (const f of contentFrames(channel, properties, body, this.frameMax)) this.write(f);
  }

  writable() {
    return this.socket.writableLength < this.options.highWaterMark;
  }

  runCommand(body: Buffer, props: BasicProperties) {
    return this.options.runCommand(body, props, this.actor);
  }

  channelClosed(id: number) {
    this.channels.delete(id);
  }

  private fail(err: unknown) {
    const e =
      err instanceof AmqpError
        ? err
        : new AmqpError(541, `INTERNAL_ERROR - ${(err as Error).message ?? String(err)}`, 'connection');
    if (!(err instanceof AmqpError)) this.logger.error({ err }, 'AMQP connection failed');
    this.connectionError(e);
  }

  connectionError(e: AmqpError) {
    if (this.state === 'closing' || this.state === 'closed') return;
    this.sendMethod(0, 'connection.close', { replyCode: e.code, replyText: e.text, classId: 0, methodId: 0 });
    this.state = 'closing';
    this.releaseChannels();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Server shutdown: tells the client why, then closes. */
  forceClose(reason: string) {
    if (this.state === 'running' || this.state === 'open') {
      this.connectionError(new AmqpError(320, `CONNECTION_FORCED - ${reason}`, 'connection'));
    } else this.socket.destroy();
  }

  private releaseChannels() {
    for (const ch of this.channels.values()) ch.abandon();
    this.channels.clear();
  }

  private teardown() {
    if (this.timer) clearInterval(this.timer);
    this.state = 'closed';
    this.releaseChannels();
    this.broker
      .dropExclusive(this)
      .catch((err) => this.logger.warn({ err }, 'AMQP: deleting exclusive queues failed'))
      .finally(() => this.onClosed(this));
  }
}
