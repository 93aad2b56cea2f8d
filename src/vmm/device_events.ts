// Events a device process raises through the transport (configuration change, needs-reset, INTx-mode used
// buffers) arrive on its event socket; the main thread drains them into the function's interrupt.
import { POLLIN, poll } from "../../ffi/libc.ts";
import type { Interrupt } from "../devices/virtio/interrupt.ts";

/** How often the main thread looks (these events are rare and not latency-bound). */
const EVENT_POLL_MS = 5;

export interface EventSource {
  /** Readable when the device raised an event. */
  readonly eventFd: number;
  drainEvents(interrupt: Interrupt): number;
}

/** Drains each source into its interrupt whenever its event socket is readable, until stopped. */
export function watchDeviceEvents(sources: readonly { device: EventSource; interrupt: Interrupt }[]): {
  stop(): void;
} {
  if (sources.length === 0) return { stop() {} };
  const timer = setInterval(() => {
    const ready = poll(
      sources.map((s) => ({ fd: s.device.eventFd, events: POLLIN })),
      0,
    );
    ready.forEach((revents, i) => {
      if (revents & POLLIN) sources[i]!.device.drainEvents(sources[i]!.interrupt);
    });
  }, EVENT_POLL_MS);
  return { stop: () => clearInterval(timer) };
}
