// Messages between the VMM's main thread and a vCPU Worker (vcpu_worker.ts). Everything is structured-cloneable.
import type { SharedBusEntry } from "../devices/shared_device.ts";
import type { DebugExit } from "../../ffi/kvm_debug.ts";
import type { ExitSlice } from "./exit_profile.ts";
import type { VcpuOutcome } from "./vcpu_loop.ts";

/** Main -> Worker, once: what to run. */
export interface VcpuWorkerInit {
  readonly cpu: number;
  readonly vcpuFd: number;
  readonly mmapSize: number;
  readonly io: readonly SharedBusEntry[];
  readonly mmio: readonly SharedBusEntry[];
  /** Int32 control words, CONTROL_WORDS of them (indices below). */
  readonly control: SharedArrayBuffer;
  /** --log-level spec text, so the Worker logs like the main thread. */
  readonly logSpec: string;
  /** A GDB stub is attached (--gdb): debug exits stop the VM for it instead of crashing it. */
  readonly debug?: boolean;
  /** Exit-slice length in ms for --trace-file (exit_trace.ts); absent when tracing is off. */
  readonly traceSliceMs?: number;
}

/** Worker -> main. */
export type VcpuWorkerMessage =
  /** Set up and waiting at the start gate; `tid` is the thread to kick. */
  | { readonly type: "ready"; readonly cpu: number; readonly tid: number }
  /** The vCPU loop ended; `trace` holds its exit slices when --trace-file is on. */
  | {
      readonly type: "exit";
      readonly cpu: number;
      readonly outcome: VcpuOutcome;
      readonly trace?: readonly ExitSlice[];
    }
  /** A breakpoint or single step (KVM_EXIT_DEBUG): the vCPU set the pause flag and parked (src/vmm/gdb/). */
  | { readonly type: "debug"; readonly cpu: number; readonly exit: DebugExit }
  /** Setup failed before the loop ran. */
  | { readonly type: "error"; readonly cpu: number; readonly message: string };

// The Int32 control words the main thread shares with every vCPU Worker.
/** Stop flag: != 0 asks each vCPU loop to return at its next kick (EINTR). */
export const CONTROL_STOP = 0;
/** Start gate: 0 until the main thread lets every vCPU enter KVM_RUN. */
export const CONTROL_GO = 1;
/** Pause flag: != 0 asks each vCPU to park at its next kick until the flag is cleared (vcpu_pause.ts). */
export const CONTROL_PAUSE = 2;
/** How many vCPUs are parked now; the main thread waits for it to reach the number of running vCPUs. */
export const CONTROL_PARKED = 3;
export const CONTROL_WORDS = 4;
