// Entry point of a vCPU Worker: rebuilds the vCPU from its fd and the buses from their shared description, waits
// at the start gate, runs the vCPU loop and reports how it ended. See vcpu_threads.ts for the main-thread side.
import type { DebugExit } from "../../ffi/kvm_debug.ts";
import { setLogLevelSpec } from "../base/log.ts";
import { reviveBus } from "../devices/shared_device.ts";
import { Vcpu } from "../hypervisor/vcpu.ts";
import { ExitProfile, exitProfileEnabled } from "./exit_profile.ts";
import { prepareKickSignal } from "./vcpu_kick.ts";
import { runVcpuLoop } from "./vcpu_loop.ts";
import { parkWhilePaused, pauseRequested } from "./vcpu_pause.ts";
import {
  CONTROL_GO,
  CONTROL_PAUSE,
  CONTROL_STOP,
  type VcpuWorkerInit,
  type VcpuWorkerMessage,
} from "./vcpu_protocol.ts";
import "./device_kinds.ts";

declare const self: Worker;

function post(msg: VcpuWorkerMessage): void {
  self.postMessage(msg);
}

self.onmessage = (event: MessageEvent<VcpuWorkerInit>) => {
  const init = event.data;
  let vcpu: Vcpu;
  let tid: number;
  let io, mmio;
  const control = new Int32Array(init.control);
  try {
    setLogLevelSpec(init.logSpec);
    vcpu = new Vcpu(init.vcpuFd, init.cpu, init.mmapSize);
    io = reviveBus("io", init.io);
    mmio = reviveBus("mmio", init.mmio);
    vcpu.mapRun();
    tid = prepareKickSignal(vcpu);
  } catch (e) {
    post({ type: "error", cpu: init.cpu, message: `vCPU ${init.cpu}: ${(e as Error).message}` });
    return;
  }
  post({ type: "ready", cpu: init.cpu, tid });
  // The start gate: the main thread opens it once every vCPU is ready (or sets the stop flag and opens it).
  while (Atomics.load(control, CONTROL_GO) === 0) Atomics.wait(control, CONTROL_GO, 0);
  if (Atomics.load(control, CONTROL_STOP) !== 0) {
    post({
      type: "exit",
      cpu: init.cpu,
      outcome: { state: "Stop", reason: `vCPU ${init.cpu}: stopped before start` },
    });
    return;
  }
  // Started paused (a GDB stub waits for its debugger): park before the first instruction.
  if (pauseRequested(control)) parkWhilePaused(control, vcpu.fd);
  let outcome;
  const profile =
    exitProfileEnabled() || init.traceSliceMs !== undefined
      ? new ExitProfile(init.cpu, io, mmio, init.traceSliceMs)
      : undefined;
  // A debug exit stops every vCPU: this one sets the pause flag, tells the main thread (which kicks the others and
  // reports the stop to the debugger) and parks until the debugger resumes the VM.
  const onDebugExit = init.debug
    ? (exit: DebugExit) => {
        Atomics.store(control, CONTROL_PAUSE, 1);
        post({ type: "debug", cpu: init.cpu, exit });
        parkWhilePaused(control, vcpu.fd);
      }
    : undefined;
  try {
    outcome = runVcpuLoop({
      vcpu,
      io: profile?.io ?? io,
      mmio: profile?.mmio ?? mmio,
      control,
      ...(onDebugExit ? { onDebugExit } : {}),
    });
  } catch (e) {
    // A device threw out of the Bus; devices must not, so this is a VMM bug: end the VM with a crash.
    outcome = {
      state: "Crash" as const,
      reason: `vCPU ${init.cpu}: ${(e as Error).stack ?? (e as Error).message}`,
    };
  }
  if (profile && exitProfileEnabled()) process.stderr.write(profile.report());
  post({
    type: "exit",
    cpu: init.cpu,
    outcome,
    ...(profile && init.traceSliceMs !== undefined ? { trace: profile.slices() } : {}),
  });
};
