// Messages between the VMM's main thread and a vCPU Worker (vcpu_worker.ts). Everything is structured-cloneable.
import type { SharedBusEntry } from "../devices/shared_device.ts";
import type { VcpuOutcome } from "./vcpu_loop.ts";

/** Main -> Worker, once: what to run. */
export interface VcpuWorkerInit {
  readonly cpu: number;
  readonly vcpuFd: number;
  readonly mmapSize: number;
  readonly io: readonly SharedBusEntry[];
  readonly mmio: readonly SharedBusEntry[];
  /** Int32 control words: [CONTROL_STOP] stop flag, [CONTROL_GO] start gate. */
  readonly control: SharedArrayBuffer;
  /** --log-level spec text, so the Worker logs like the main thread. */
  readonly logSpec: string;
}

/** Worker -> main. */
export type VcpuWorkerMessage =
  /** Set up and waiting at the start gate; `tid` is the thread to kick. */
  | { readonly type: "ready"; readonly cpu: number; readonly tid: number }
  /** The vCPU loop ended. */
  | { readonly type: "exit"; readonly cpu: number; readonly outcome: VcpuOutcome }
  /** Setup failed before the loop ran. */
  | { readonly type: "error"; readonly cpu: number; readonly message: string };

/** Index of the start gate in the control words (CONTROL_STOP is 0, in vcpu_loop.ts). */
export const CONTROL_GO = 1;
export const CONTROL_WORDS = 2;
