import { bounded, type RedisClient } from './client.js';

/**
 * Cross-process wake-ups: the transition scripts PUBLISH on the key's channel when a record leaves
 * `in_flight` and someone waits on it (a completion carries the record). One subscriber
 * connection per store (a duplicate of the user's client, which we therefore may close),
 * subscribed per waited key while someone waits on it, and to the changed channel while the
 * store keeps completed records (cache.ts).
 */
export class Wakeups {
  private subscriber: RedisClient | undefined;
  private readonly listeners = new Map<string, Set<(message: string) => void>>();
  /** Told when the subscriber connection drops (messages may have been missed) and when it is back. */
  private readonly connectionListeners = new Set<(up: boolean) => void>();
  /** The SUBSCRIBE of each channel, so a second waiter also waits until the subscription is live. */
  private readonly subscribed = new Map<string, Promise<unknown>>();
  private closed = false;

  constructor(
    private readonly client: RedisClient,
    private readonly timeoutMs: number,
  ) {}

  /** Calls `wake` on each message for `channel` until the returned function is called. */
  async listen(channel: string, wake: (message: string) => void): Promise<() => void> {
    let set = this.listeners.get(channel);
    const first = !set;
    if (!set) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(wake);
    const stop = () => this.unlisten(channel, wake);
    try {
      if (first) this.subscribed.set(channel, this.subscribe(channel));
      await this.subscribed.get(channel);
    } catch (error) {
      stop();
      throw error;
    }
    return stop;
  }

  private subscribe(channel: string): Promise<unknown> {
    const subscriber = this.connection();
    return bounded(subscriber, { operation: 'subscribe', key: channel, timeoutMs: this.timeoutMs }, () =>
      subscriber.subscribe(channel),
    );
  }

  close(): void {
    this.closed = true;
    this.listeners.clear();
    this.subscribed.clear();
    this.subscriber?.disconnect();
    this.subscriber = undefined;
  }

  /** `up` false: the connection dropped; true: it is back and `channel`'s subscription is live again. */
  onConnection(channel: string, listener: (up: boolean) => void): void {
    this.connectionListeners.add(listener);
    this.connection().on('ready', () => {
      if (!this.listeners.has(channel)) return;
      this.subscribe(channel).then(
        () => listener(true),
        () => undefined,
      );
    });
  }

  private unlisten(channel: string, wake: (message: string) => void): void {
    const set = this.listeners.get(channel);
    if (!set?.delete(wake) || set.size > 0) return;
    this.listeners.delete(channel);
    this.subscribed.delete(channel);
    this.subscriber?.unsubscribe(channel).catch(() => undefined);
  }

  private connection(): RedisClient {
    if (this.closed) throw new Error('the store is closed');
    if (!this.subscriber) {
      // Standalone: we resubscribe after a reconnect ourselves, with the rejection handled; ioredis'
      // own resubscribe leaves it unhandled when Redis closes again meanwhile (seen in store-down
      // tests, now that the changed channel is subscribed for as long as the store keeps copies).
      const subscriber = this.client.isCluster
        ? this.client.duplicate()
        : this.client.duplicate({ autoResubscribe: false });
      if (!this.client.isCluster) {
        subscriber.on('ready', () => {
          for (const channel of this.listeners.keys()) this.subscribe(channel).catch(() => undefined);
        });
      }
      subscriber.on('message', (channel: string, message: string) => {
        for (const wake of this.listeners.get(channel) ?? []) wake(message);
      });
      subscriber.on('close', () => {
        for (const listener of this.connectionListeners) listener(false);
      });
      // Errors reach the waiters through the fallback poll; an unhandled 'error' event would crash.
      subscriber.on('error', () => undefined);
      this.subscriber = subscriber;
    }
    return this.subscriber;
  }
}

/** A bell that remembers a ring until someone waits, so a message between a read and a wait is not lost. */
export class Doorbell {
  private rung = false;
  private ring_: (() => void) | undefined;
  /** The last message heard. */
  message = '';

  ring = (message = ''): void => {
    this.message = message;
    this.rung = true;
    this.ring_?.();
  };

  /** Resolves on a ring (possibly one already heard), after `ms`, or on abort. */
  wait(ms: number, signal?: AbortSignal): Promise<void> {
    if (this.rung || signal?.aborted) {
      this.rung = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.ring_ = undefined;
        this.rung = false;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.ring_ = done;
      signal?.addEventListener('abort', done, { once: true });
    });
  }
}
