// The thread of the wait loop (wait_loop.ts): sleeps in epoll_wait(2) on the loop's epoll instance and posts each
// batch of ready registrations to the thread that owns the loop, as [token, events] pairs. Every registration is
// EPOLLONESHOT, so a ready fd is posted once until its owner has handled it and re-armed it: this thread never
// reads an fd and never spins. Token 0 is the loop's stop eventfd: on it the thread ends.
import { epollWait } from "../../ffi/libc.ts";

/** What the owner sends once, right after creating the Worker. */
export interface WaitLoopWorkerInit {
  readonly epfd: number;
}

/** One batch of ready registrations: [token, events, token, events, ...]. */
export type WaitLoopBatch = number[];

export const STOP_TOKEN = 0;
/** Registrations reported per epoll_wait call; more wait for the next call. */
const MAX_EVENTS = 64;

declare const self: Worker;

self.onmessage = (ev: MessageEvent<WaitLoopWorkerInit>) => {
  self.onmessage = null;
  const { epfd } = ev.data;
  for (;;) {
    const ready = epollWait(epfd, MAX_EVENTS, -1);
    const batch: WaitLoopBatch = [];
    let stop = false;
    for (const r of ready) {
      if (r.token === STOP_TOKEN) stop = true;
      else batch.push(r.token, r.events);
    }
    if (batch.length > 0) postMessage(batch);
    if (stop) break;
  }
};
