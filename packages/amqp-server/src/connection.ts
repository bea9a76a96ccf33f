import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import type { Broker } from './broker.js';
import { Channel, type ChannelHost } from './channel.js';
import { type Args, decodeMethod } from './codec.js';
import { AmqpError, channelError, commandInvalid, notAllowed, resourceError, unexpectedFrame } from './errors.js';
import { contentFrames, type Frame, FrameParser, heartbeatFrame, methodFrame, PROTOCOL_HEADER } from './frames.js';
import type { AmqpMetrics } from './metrics.js';
import { type AmqpAuthenticator, type AmqpPrincipal, plainCredentials } from './plugins.js';
import { FRAME_MIN_SIZE, FrameType, type MethodName } from './spec.js';

export interface ConnectionOptions {
  /** Largest frame the server accepts and offers, in bytes. */
  frameMax: number;
  /** Heartbeat the server proposes, in seconds; 0 turns heartbeats off unless the client asks. */
  heartbeatSeconds: number;
  channelMax: number;
  /** SASL mechanisms offered in connection.start, e.g. `['PLAIN']`. */
  mechanisms: readonly string[];
  /** Checks the login; the principal, or undefined to refuse it. */
  authenticate: AmqpAuthenticator;
  /** `product` in the server properties of connection.start. */
  product: string;
  /** Socket bytes buffered before consumers pause. */
  highWaterMark: number;
  /** Largest message body accepted, in bytes. */
  maxMessageBytes: number;
  metrics: AmqpMetrics;
  /** From TCP accept to connection.open-ok, in ms, however the bytes trickle in. */
  handshakeTimeoutMs: number;
  /** Longest silence from the client once tuned, in ms (heartbeat 0 too). */
  idleTimeoutMs: number;
  /** Declared body bytes of unfinished publishes, all channels together. */
  maxUnfinishedContentBytes: number;
  maxPrefetch: number;
  maxTableDepth: number;
  /** Set when the connection was accepted above the connection cap: the reason it is refused at connection.open. */
  refusal?: string;
}

/** basic.publish (class 60, method 40) as the first four payload bytes of a method frame. */
const BASIC_PUBLISH = (60 << 16) | 40;
const isPublish = (f: Frame) =>
  f.type === FrameType.METHOD && f.payload.length >= 4 && f.payload.readUInt32BE(0) === BASIC_PUBLISH;

const serverProperties = (product: string) => ({
  product,
  version: '0.1.0',
  platform: `Node.js ${process.version}`,
  capabilities: {
    publisher_confirms: true,
    exchange_exchange_bindings: false,
    'basic.nack': true,
    consumer_cancel_notify: true,
    'connection.blocked': true,
    consumer_priorities: false,
    authentication_failure_close: true,
    per_consumer_qos: true,
    direct_reply_to: true,
  },
});

/** One client connection: handshake, heartbeats, channel multiplexing, connection exceptions. */
export class Connection implements ChannelHost {
  private state: 'header' | 'start' | 'tune' | 'open' | 'running' | 'closing' | 'closed' = 'header';
  private readonly parser = new FrameParser();
  private readonly channels = new Map<number, Channel>();
  principal: AmqpPrincipal = { name: 'anonymous' };
  /** How the connection logged in: update-secret checks the new secret the same way. */
  private login: { mechanism: string; username: string } | undefined;
  frameMax: number;
  private channelMax: number;
  private heartbeat = 0;
  private timer: NodeJS.Timeout | undefined;
  private lastRecv = Date.now();
  private lastSend = Date.now();
  private corked = false;
  /** Bytes of the protocol header received so far (it may come in pieces). */
  private header = Buffer.alloc(0);
  private handshakeTimer: NodeJS.Timeout | undefined;
  /** After a malformed frame the byte stream cannot be trusted: the rest is dropped. */
  private discarding = false;
  private unfinishedContent = 0;
  /** The client announced the `connection.blocked` capability. */
  private blockable = false;
  /** The gateway is short of memory: publishing connections get blocked. */
  private memoryAlarm = false;
  /** This connection is blocked: its socket is not read until the alarm clears. */
  private blocked = false;
  readonly owner = this;
  get maxMessageBytes() {
    return this.options.maxMessageBytes;
  }
  get maxTableDepth() {
    return this.options.maxTableDepth;
  }
  get maxPrefetch() {
    return this.options.maxPrefetch;
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
    // Until connection.tune-ok, frames are at most the spec's minimum (as RabbitMQ: 4096).
    this.parser.frameMax = FRAME_MIN_SIZE;
    // The whole handshake has one deadline (RabbitMQ's handshake_timeout): trickled bytes do not extend it.
    this.handshakeTimer = setTimeout(() => this.handshakeExpired(), options.handshakeTimeoutMs);
    this.handshakeTimer.unref();
  }

  private get peer() {
    return { remote: `${this.socket.remoteAddress}:${this.socket.remotePort}` };
  }

  private handshakeExpired() {
    if (this.state === 'running' || this.state === 'closed') return;
    this.logger.info(
      { ...this.peer, state: this.state, timeoutMs: this.options.handshakeTimeoutMs },
      'AMQP handshake not finished in time: closing',
    );
    this.socket.destroy();
  }

  private onData(data: Buffer) {
    this.lastRecv = Date.now();
    if (this.discarding) return;
    try {
      if (this.state === 'header') {
        // The 8 header bytes may arrive in several TCP segments.
        this.header = Buffer.concat([this.header, data]);
        if (this.header.length < PROTOCOL_HEADER.length) return;
        data = this.header;
        this.header = Buffer.alloc(0);
        if (!data.subarray(0, 8).equals(PROTOCOL_HEADER)) {
          // The spec: answer with the header we support, then close.
          this.logger.info({ ...this.peer, header: data.subarray(0, 8).toString('hex') }, 'AMQP: bad protocol header');
          this.socket.end(PROTOCOL_HEADER);
          this.state = 'closed';
          return;
        }
        this.state = 'start';
        this.sendMethod(0, 'connection.start', {
          versionMajor: 0,
          versionMinor: 9,
          serverProperties: serverProperties(this.options.product),
          mechanisms: this.options.mechanisms.join(' '),
          locales: 'en_US',
        });
        data = data.subarray(8);
        if (data.length === 0) return;
      }
      if (this.state === 'closed') return;
      let frames: Frame[];
      try {
        frames = this.parser.push(data);
      } catch (err) {
        this.discarding = true;
        throw err;
      }
      for (const f of frames) this.onFrame(f);
      if (this.memoryAlarm && !this.blocked && this.state === 'running' && frames.some(isPublish)) this.block();
    } catch (err) {
      this.fail(err);
    }
  }

  /**
   * The memory alarm went on or off. As RabbitMQ does, only a connection that publishes is
   * blocked (consumers keep draining queues): its socket is no longer read, and a client
   * with the `connection.blocked` capability is told why.
   */
  setMemoryAlarm(on: boolean) {
    this.memoryAlarm = on;
    if (on || !this.blocked) return;
    this.blocked = false;
    if (this.blockable && this.state === 'running') this.sendMethod(0, 'connection.unblocked');
    this.lastRecv = Date.now();
    this.socket.resume();
  }

  private block() {
    this.blocked = true;
    if (this.blockable) this.sendMethod(0, 'connection.blocked', { reason: 'low on memory' });
    this.socket.pause();
  }

  reserveContent(bytes: number) {
    const max = this.options.maxUnfinishedContentBytes;
    if (this.unfinishedContent + bytes > max) {
      throw resourceError(
        `unfinished publishes on this connection would hold ${this.unfinishedContent + bytes} bytes, above the limit of ${max}`,
      );
    }
    this.unfinishedContent += bytes;
  }

  releaseContent(bytes: number) {
    this.unfinishedContent -= bytes;
  }

  private onFrame(f: Frame) {
    if (f.type === FrameType.HEARTBEAT) return;
    if (this.state === 'closing') {
      if (f.type === FrameType.METHOD && f.channel === 0) {
        const { spec } = decodeMethod(f.payload, this.options.maxTableDepth);
        if (spec.name === 'connection.closeOk' || spec.name === 'connection.close') {
          if (spec.name === 'connection.close') this.sendMethod(0, 'connection.closeOk');
          this.socket.end();
        }
      }
      return;
    }
    if (f.channel === 0) {
      if (f.type !== FrameType.METHOD) throw unexpectedFrame(`frame type ${f.type} on channel 0`);
      const { spec, args } = decodeMethod(f.payload, this.options.maxTableDepth);
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
    const { spec } = decodeMethod(f.payload, this.options.maxTableDepth);
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
        if (!this.options.mechanisms.includes(mechanism)) {
          return this.refuse(`ACCESS_REFUSED - unsupported authentication mechanism '${mechanism}'`);
        }
        let principal: AmqpPrincipal | undefined;
        try {
          principal = this.options.authenticate(mechanism, a.response as Buffer);
        } catch (err) {
          if (!(err instanceof AmqpError)) throw err;
          return this.refuse(err.text);
        }
        if (!principal) {
          return this.refuse(
            `ACCESS_REFUSED - Login was refused using authentication mechanism ${mechanism}. For details see the broker logfile.`,
          );
        }
        this.principal = principal;
        this.login = { mechanism, username: plainCredentials(a.response as Buffer).username };
        const capabilities = (a.clientProperties as Record<string, unknown> | undefined)?.capabilities;
        this.blockable =
          typeof capabilities === 'object' &&
          capabilities !== null &&
          (capabilities as Record<string, unknown>)['connection.blocked'] === true;
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
        if (this.options.refusal) throw notAllowed(this.options.refusal);
        this.state = 'running';
        clearTimeout(this.handshakeTimer);
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
      case 'connection.updateSecret':
        return this.updateSecret(a);
      case 'connection.blocked':
      case 'connection.unblocked':
      case 'connection.updateSecretOk':
        return;
      default:
        throw commandInvalid(`unexpected method ${name} on channel 0`);
    }
  }

  /**
   * connection.update-secret (token rotation): the new secret is checked by the same
   * `authenticate` as the login, with the login's username. It must name the same
   * principal; the connection then acts with what the new secret grants. Refused: 530, as
   * RabbitMQ refuses a secret its backends reject.
   */
  private updateSecret(a: Args) {
    if (this.state !== 'running' || !this.login) throw commandInvalid('unexpected connection.update-secret');
    const secret = Buffer.isBuffer(a.newSecret) ? a.newSecret : Buffer.from(String(a.newSecret ?? ''), 'utf8');
    const response = Buffer.concat([Buffer.from(`\0${this.login.username}\0`, 'utf8'), secret]);
    let next: AmqpPrincipal | undefined;
    try {
      next = this.options.authenticate(this.login.mechanism, response);
    } catch (err) {
      if (!(err instanceof AmqpError)) throw err;
    }
    if (!next || next.name !== this.principal.name) {
      throw notAllowed('New secret was refused by one of the backends');
    }
    this.principal = next;
    this.logger.info({ ...this.peer, principal: next.name, reason: String(a.reason ?? '') }, 'AMQP secret updated');
    this.sendMethod(0, 'connection.updateSecretOk');
  }

  /** Refuses a login: connection.close 403, then the socket closes (authentication_failure_close). */
  private refuse(text: string) {
    this.sendMethod(0, 'connection.close', { replyCode: 403, replyText: text, classId: 10, methodId: 11 });
    this.state = 'closing';
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /**
   * Heartbeats as negotiated: sent when the link is idle for half the interval; a client
   * silent for two intervals is cut (as RabbitMQ). Whatever was negotiated (heartbeat 0
   * too), a client silent for `idleTimeoutMs` is cut. A blocked connection is not read, so
   * its silence does not count.
   */
  private startHeartbeats() {
    const ms = this.heartbeat * 1000;
    const idle = this.options.idleTimeoutMs;
    const silence = ms > 0 ? Math.min(2 * ms, idle) : idle;
    const period = Math.max(50, Math.min(ms > 0 ? ms / 2 : idle, idle / 4));
    this.timer = setInterval(() => {
      const now = Date.now();
      if (this.blocked) this.lastRecv = now;
      if (now - this.lastRecv > silence) {
        this.logger.info(
          { ...this.peer, principal: this.principal.name, heartbeat: this.heartbeat, silentMs: now - this.lastRecv },
          ms > 0 && silence === 2 * ms
            ? 'AMQP client missed heartbeats: closing'
            : 'AMQP client idle too long: closing',
        );
        this.socket.destroy();
        return;
      }
      if (ms > 0 && now - this.lastSend >= ms / 2) this.write(heartbeatFrame());
    }, period);
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
    this.logger.info(
      { ...this.peer, principal: this.principal.name, code: e.code, text: e.text },
      'AMQP connection error: closing',
    );
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
    clearTimeout(this.handshakeTimer);
    this.state = 'closed';
    this.releaseChannels();
    this.broker
      .dropExclusive(this)
      .catch((err) => this.logger.warn({ err }, 'AMQP: deleting exclusive queues failed'))
      .finally(() => this.onClosed(this));
  }
}
