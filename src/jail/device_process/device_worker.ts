// A device model in single process mode (--disable-sandbox, the crosvm book's "single process mode"): the same
// serve loop as a device process (host.ts), run in a Worker of the VMM over the same descriptors and the same
// control/event protocol, so no device process exists. The Worker is told KIND and SPEC_JSON in one message,
// serves until Shutdown or until the VMM closes the control socket, and then posts its exit status.
import { runDeviceProcess } from "./host.ts";

/** The one message the VMM sends. */
export interface DeviceWorkerInit {
  readonly kind: string;
  readonly spec: string;
}

/** The one message the Worker sends back, when the serve loop has ended. */
export interface DeviceWorkerExit {
  readonly status: number;
}

declare const self: Worker;

self.onmessage = async (ev: MessageEvent<DeviceWorkerInit>) => {
  self.onmessage = null;
  const status = await runDeviceProcess([ev.data.kind, ev.data.spec], { inProcess: true });
  const exit: DeviceWorkerExit = { status };
  postMessage(exit);
};
