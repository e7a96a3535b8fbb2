import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import { EVENT_CHANNEL, type OncelyEvent } from '../events.js';

/*
 * Which events belong to which `execute` call. The engine emits every event synchronously from
 * inside the call it concerns, so the call's async context is current at publish time: each
 * instrumented call runs in its own AsyncLocalStorage frame, and one subscriber to the
 * `oncely:event` diagnostics channel appends each event to the frame current when it is published.
 *
 * Filtering the channel by key alone would be wrong exactly where it matters: an owner and its
 * coalesced or waiting twin share a key, and the owner's `sent`/`completed` would be counted for
 * the twin too. The frame tells them apart; the key filter (`eventsOf`) then drops events of other
 * operations run inside this one's user code (a `send` that calls another, uninstrumented
 * `Idempotency`), which inherit the frame.
 */

export interface Seen {
  event: OncelyEvent;
  /** `performance.now()` when it was published. */
  at: number;
}

export interface Frame {
  events: Seen[];
}

const frames = new AsyncLocalStorage<Frame>();
let listening = false;

/** Subscribes once per process; a publish outside any instrumented call costs one `getStore()`. */
function listen(): void {
  if (listening) return;
  listening = true;
  subscribe(EVENT_CHANNEL, (message) => {
    frames.getStore()?.events.push({ event: message as OncelyEvent, at: performance.now() });
  });
}

/** Runs `fn` in a fresh frame that collects the events published while it runs. */
export function collecting<T>(frame: Frame, fn: () => Promise<T>): Promise<T> {
  listen();
  return frames.run(frame, fn);
}

/** The frame's events of one store key. */
export function eventsOf(frame: Frame, key: string): Seen[] {
  return frame.events.filter((seen) => seen.event.key === key);
}
