// Events a device raises through the transport (configuration change, needs-reset, INTx-mode used buffers)
// arrive on its event socket; the main thread drains them into the function's interrupt when the wait loop
// (src/base/wait_loop.ts) says the socket is readable. A hung-up socket (the device ended) is no longer watched.
import { EPOLLERR, EPOLLHUP } from "../../ffi/libc.ts";
import { WaitLoop, type Watch } from "../base/wait_loop.ts";
import type { Interrupt } from "../devices/virtio/interrupt.ts";

export interface EventSource {
  /** Readable when the device raised an event. */
  readonly eventFd: number;
  readonly debugLabel: string;
  drainEvents(interrupt: Interrupt): number;
}

/** Drains each source into its interrupt whenever its event socket is readable, until stopped. */
export function watchDeviceEvents(sources: readonly { device: EventSource; interrupt: Interrupt }[]): {
  stop(): void;
} {
  const watches = sources.map(({ device, interrupt }) => {
    const watch: Watch = WaitLoop.shared().watch(
      device.eventFd,
      `${device.debugLabel} event socket`,
      (ev) => {
        device.drainEvents(interrupt);
        if (ev & (EPOLLHUP | EPOLLERR)) watch.cancel();
      },
    );
    return watch;
  });
  return { stop: () => watches.forEach((w) => w.cancel()) };
}
