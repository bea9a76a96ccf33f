/** One event as `GET /api/events` and the WebSocket feed deliver it. */
export interface FeedEvent {
  position: number;
  index: number;
  aggregateType: string;
  aggregateId: string;
  version: number;
  type: string;
  data: Record<string, unknown>;
  timestamp: string;
  actor?: string;
  via?: string;
}

export interface FeedFilter {
  aggregateType?: string;
  aggregateId?: string;
  types?: string[];
}

export type FeedState = 'connecting' | 'live' | 'reconnecting' | 'unauthorized';

/**
 * Who the token belongs to, as the API's `authenticated` frame says. `role: null`: not
 * known (an older API authenticated through `?token=` and sent no frame).
 */
export interface FeedIdentity {
  actor: string | null;
  role: string | null;
}

interface Subscription {
  id: string;
  filter: FeedFilter;
  /** The last event delivered, so a resubscription continues right after it. */
  after?: number;
  afterIndex?: number;
  onEvent(e: FeedEvent): void;
}

/**
 * The live feed over one WebSocket. Each subscription remembers the (position, index) of
 * the last event it delivered; after a reconnect it subscribes again with them as
 * `after`/`afterIndex`, so nothing is missed and nothing is delivered twice.
 *
 * Credentials: the first frame `{"type":"auth","token":…}`; an API that does not speak it
 * yet closes the socket with 4401 at once, and the feed then passes the token as `?token=`.
 */
export class LiveFeed {
  private socket: WebSocket | undefined;
  private readonly subs = new Map<string, Subscription>();
  private nextId = 1;
  private attempt = 0;
  private authMode: 'frame' | 'query' = 'frame';
  private authenticated = false;
  private closed = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private ping: ReturnType<typeof setInterval> | undefined;
  private readonly listeners = new Set<(s: FeedState) => void>();
  private readonly identityListeners = new Set<(i: FeedIdentity | undefined) => void>();
  state: FeedState = 'connecting';
  /** Undefined until the socket is authenticated for the first time. */
  identity: FeedIdentity | undefined;

  constructor(private readonly token: string) {
    this.connect();
  }

  onState(fn: (s: FeedState) => void): () => void {
    this.listeners.add(fn);
    fn(this.state);
    return () => this.listeners.delete(fn);
  }

  onIdentity(fn: (i: FeedIdentity | undefined) => void): () => void {
    this.identityListeners.add(fn);
    fn(this.identity);
    return () => this.identityListeners.delete(fn);
  }

  private setIdentity(i: FeedIdentity) {
    if (this.identity?.actor === i.actor && this.identity?.role === i.role) return;
    this.identity = i;
    for (const fn of this.identityListeners) fn(i);
  }

  /** `after` undefined: from the head; 0: everything first. Returns the unsubscribe function. */
  subscribe(filter: FeedFilter, after: number | undefined, onEvent: (e: FeedEvent) => void): () => void {
    const sub: Subscription = { id: `s${this.nextId++}`, filter, onEvent, ...(after !== undefined ? { after } : {}) };
    this.subs.set(sub.id, sub);
    if (this.state === 'live') this.sendSubscribe(sub);
    return () => {
      this.subs.delete(sub.id);
      if (this.state === 'live') this.send({ op: 'unsubscribe', id: sub.id });
    };
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    clearInterval(this.ping);
    this.socket?.close(1000);
  }

  private setState(s: FeedState) {
    this.state = s;
    for (const fn of this.listeners) fn(s);
  }

  private send(frame: unknown) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  private sendSubscribe(sub: Subscription) {
    this.send({
      op: 'subscribe',
      id: sub.id,
      filter: sub.filter,
      ...(sub.after !== undefined ? { after: sub.after } : {}),
      ...(sub.afterIndex !== undefined ? { afterIndex: sub.afterIndex } : {}),
    });
  }

  private connect() {
    const base = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`;
    const url = this.authMode === 'query' ? `${base}?token=${encodeURIComponent(this.token)}` : base;
    const socket = new WebSocket(url);
    this.socket = socket;
    this.authenticated = false;
    socket.onopen = () => {
      if (this.authMode === 'frame') this.send({ type: 'auth', token: this.token });
      else {
        this.setIdentity({ actor: null, role: null });
        this.onAuthenticated();
      }
    };
    socket.onmessage = (msg) => this.onFrame(JSON.parse(String(msg.data)) as Record<string, unknown>);
    socket.onclose = (ev) => {
      clearInterval(this.ping);
      if (this.closed || this.socket !== socket) return;
      if (ev.code === 4401) {
        if (this.authMode === 'frame' && !this.authenticated) {
          this.authMode = 'query';
          return this.connect();
        }
        return this.setState('unauthorized');
      }
      this.setState('reconnecting');
      // 0.5 s, 1 s, 2 s … at most 5 s: the API is usually back within seconds.
      const delay = Math.min(5000, 500 * 2 ** this.attempt++);
      this.timer = setTimeout(() => this.connect(), delay);
    };
  }

  private onAuthenticated() {
    this.authenticated = true;
    this.attempt = 0;
    this.setState('live');
    for (const sub of this.subs.values()) this.sendSubscribe(sub);
    this.ping = setInterval(() => this.send({ op: 'ping' }), 20_000);
  }

  private onFrame(frame: Record<string, unknown>) {
    if (frame.type === 'authenticated') {
      this.setIdentity({
        actor: typeof frame.actor === 'string' ? frame.actor : null,
        role: typeof frame.role === 'string' ? frame.role : null,
      });
      return this.onAuthenticated();
    }
    if (frame.op !== 'event') return;
    const sub = this.subs.get(String(frame.sub));
    const event = frame.event as FeedEvent;
    if (!sub) return;
    // A resubscription starts after the last event seen; this guard only protects against a repeat.
    if (
      sub.after !== undefined &&
      (event.position < sub.after || (event.position === sub.after && event.index <= (sub.afterIndex ?? Infinity)))
    ) {
      return;
    }
    sub.after = event.position;
    sub.afterIndex = event.index;
    sub.onEvent(event);
  }
}
