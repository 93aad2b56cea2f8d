// The vCPU run loop: KVM_RUN, then dispatch the exit to the I/O-port or MMIO Bus, until the vCPU stops the VM
// (reset, shutdown, a failure) or the VMM kicks it. It runs in a vCPU Worker (vcpu_worker.ts) and in the exit-cost
// benchmark. The hot path allocates nothing: KVM_RUN goes through a dedicated bun:ffi symbol, exit fields are read
// through one DataView over the kvm_run mapping, data buffers are views cached per access size, and the Bus keeps
// a last-hit cache.
import {
  KVM_EXIT_DEBUG,
  KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_HLT,
  KVM_EXIT_INTERNAL_ERROR,
  KVM_EXIT_IO,
  KVM_EXIT_IO_OUT,
  KVM_EXIT_IRQ_WINDOW_OPEN,
  KVM_EXIT_MMIO,
  KVM_EXIT_NAMES,
  KVM_EXIT_SHUTDOWN,
  KVM_EXIT_SYSTEM_EVENT,
  KVM_INTERNAL_ERROR_NAMES,
  KVM_RUN as KVM_RUN_IOCTL,
  KVM_SYSTEM_EVENT_CRASH,
  KVM_SYSTEM_EVENT_RESET,
  KVM_SYSTEM_EVENT_SHUTDOWN,
  kvmRunIoctl,
} from "../../ffi/kvm.ts";
import { KVM_RUN } from "../../ffi/kvm_structs.ts";
import { KVM_RUN_DEBUG, type DebugExit } from "../../ffi/kvm_debug.ts";
import { errno } from "../../ffi/libc.ts";
import { errnoName } from "../../ffi/errno.ts";
import { GuestLog } from "../base/guest_log.ts";
import { logger } from "../base/log.ts";
import { formatRegisterDump } from "../hypervisor/register_dump.ts";
import type { Vcpu } from "../hypervisor/vcpu.ts";
import type { ExitState } from "../vm_control/exit_status.ts";
import type { ExitBus } from "./exit_profile.ts";
import { consumeKickSignal } from "./vcpu_kick.ts";
import { parkWhilePaused, pauseRequested } from "./vcpu_pause.ts";
import { CONTROL_STOP } from "./vcpu_protocol.ts";

export interface VcpuOutcome {
  /** How the vCPU ended the VM (crosvm ExitState; a vCPU reports Stop, Reset or Crash). */
  readonly state: ExitState;
  /** One line saying why, e.g. "vCPU 0: triple fault (KVM_EXIT_SHUTDOWN)". */
  readonly reason: string;
  /** Register dump for error exits. */
  readonly dump?: string;
}

export interface VcpuLoopContext {
  readonly vcpu: Vcpu;
  readonly io: ExitBus;
  readonly mmio: ExitBus;
  /**
   * Shared control words (vcpu_protocol.ts): at each kick (EINTR) the loop returns if CONTROL_STOP is set and parks
   * while CONTROL_PAUSE is set (vcpu_pause.ts). A shorter array (benchmarks) may leave out the pause words.
   */
  readonly control: Int32Array;
  /** Stop after this many KVM_RUN exits (benchmarks); unlimited when absent. */
  readonly maxExits?: number;
  /**
   * Called on KVM_EXIT_DEBUG (a breakpoint or single step armed by the GDB stub, src/vmm/gdb/); it returns once the
   * debugger lets the vCPU run again. Without it a debug exit is unexpected and crashes the VM.
   */
  readonly onDebugExit?: (exit: DebugExit) => void;
}

const EINTR = 4;
const EAGAIN = 11;
const LE = true;
const log = logger("vmm::vcpu");

const hex = (n: number) => `0x${n.toString(16)}`;

// kvm_run offsets as plain module constants for the hot path.
const EXIT_REASON = KVM_RUN.exitReason;
const IO_DIRECTION = KVM_RUN.io.direction;
const IO_SIZE = KVM_RUN.io.size;
const IO_PORT = KVM_RUN.io.port;
const IO_COUNT = KVM_RUN.io.count;
const IO_DATA_OFFSET = KVM_RUN.io.dataOffset;
const MMIO_PHYS_ADDR = KVM_RUN.mmio.physAddr;
const MMIO_DATA = KVM_RUN.mmio.data;
const MMIO_LEN = KVM_RUN.mmio.len;
const MMIO_IS_WRITE = KVM_RUN.mmio.isWrite;

function errorOutcome(vcpu: Vcpu, state: ExitState, reason: string): VcpuOutcome {
  let dump: string | undefined;
  try {
    dump = formatRegisterDump(vcpu.id, vcpu.getRegs(), vcpu.getSregs());
  } catch (e) {
    dump = `(registers unavailable: ${(e as Error).message})`;
  }
  return { state, reason: `vCPU ${vcpu.id}: ${reason}`, dump };
}

/** Runs the vCPU until it ends the VM or is kicked with the stop flag set. Never throws for guest behaviour. */
export function runVcpuLoop(ctx: VcpuLoopContext): VcpuOutcome {
  const { vcpu, io, mmio, control } = ctx;
  const fd = vcpu.fd;
  const run = vcpu.mapRun();
  const dv = run.view;
  const bytes = run.bytes;
  const maxExits = ctx.maxExits ?? Infinity;

  // Data buffers for port I/O are views at kvm_run.io.data_offset; cache one per access size (1, 2, 4).
  let ioDataOffset = -1;
  const ioViews: Uint8Array[] = [];
  const mmioViews: Uint8Array[] = [];
  for (let len = 0; len <= 8; len++) mmioViews.push(bytes.subarray(MMIO_DATA, MMIO_DATA + len));
  const guestLog = new GuestLog(log, `vCPU ${vcpu.id}`);

  const reportUnmapped = (space: string, write: boolean, addr: number, len: number) => {
    const message = `${write ? "write to" : "read from"} unmapped ${space} ${hex(addr)} (${len} bytes)`;
    // Linux probes legacy ports that a VM does not have (DMA page registers, Super I/O at 0x4e) on every boot;
    // those are only worth a debug line. MMIO outside every device is more likely a bug worth a warning.
    guestLog.log(space === "port" ? "debug" : "warn", `unmapped ${space}`, message);
  };

  let exits = 0;
  for (;;) {
    if (exits++ >= maxExits) return { state: "Stop", reason: `vCPU ${vcpu.id}: exit budget reached` };
    if (kvmRunIoctl(fd, KVM_RUN_IOCTL, 0) < 0) {
      const e = errno();
      if (e === EINTR || e === EAGAIN) {
        consumeKickSignal();
        if (pauseRequested(control)) parkWhilePaused(control, fd);
        if (Atomics.load(control, CONTROL_STOP) !== 0)
          return { state: "Stop", reason: `vCPU ${vcpu.id}: stopped by the VMM` };
        continue;
      }
      return errorOutcome(vcpu, "Crash", `KVM_RUN failed: ${errnoName(e)}`);
    }

    const reason = dv.getUint32(EXIT_REASON, LE);
    if (reason === KVM_EXIT_IO) {
      const out = bytes[IO_DIRECTION] === KVM_EXIT_IO_OUT;
      const size = bytes[IO_SIZE]!;
      const port = dv.getUint16(IO_PORT, LE);
      const count = dv.getUint32(IO_COUNT, LE);
      const offset = dv.getUint32(IO_DATA_OFFSET, LE);
      if (count === 1) {
        if (offset !== ioDataOffset) {
          ioDataOffset = offset;
          for (let s = 0; s <= 8; s++) ioViews[s] = bytes.subarray(offset, offset + s);
        }
        const data = ioViews[size]!;
        if (out ? !io.write(port, data) : !io.read(port, data)) reportUnmapped("port", out, port, size);
      } else {
        // String I/O (rep ins/outs): `count` items of `size` bytes, back to back.
        for (let i = 0; i < count; i++) {
          const data = bytes.subarray(offset + i * size, offset + (i + 1) * size);
          if (out ? !io.write(port, data) : !io.read(port, data)) reportUnmapped("port", out, port, size);
        }
      }
      continue;
    }
    if (reason === KVM_EXIT_MMIO) {
      // Two 32-bit reads: a u64 read would allocate a BigInt per exit.
      const addr = dv.getUint32(MMIO_PHYS_ADDR, LE) + dv.getUint32(MMIO_PHYS_ADDR + 4, LE) * 0x1_0000_0000;
      const len = Math.min(dv.getUint32(MMIO_LEN, LE), 8);
      const write = bytes[MMIO_IS_WRITE] !== 0;
      const data = mmioViews[len]!;
      if (write ? !mmio.write(addr, data) : !mmio.read(addr, data))
        reportUnmapped("MMIO address", write, addr, len);
      continue;
    }
    switch (reason) {
      case KVM_EXIT_IRQ_WINDOW_OPEN:
      case KVM_EXIT_HLT:
        // With the in-kernel irqchip HLT is handled in the kernel; a userspace HLT exit just resumes.
        continue;
      case KVM_EXIT_DEBUG:
        if (!ctx.onDebugExit) return errorOutcome(vcpu, "Crash", "unexpected exit KVM_EXIT_DEBUG");
        ctx.onDebugExit({
          exception: dv.getUint32(KVM_RUN_DEBUG.exception, LE),
          pc: dv.getBigUint64(KVM_RUN_DEBUG.pc, LE),
          dr6: dv.getBigUint64(KVM_RUN_DEBUG.dr6, LE),
        });
        if (Atomics.load(control, CONTROL_STOP) !== 0)
          return { state: "Stop", reason: `vCPU ${vcpu.id}: stopped by the VMM` };
        continue;
      case KVM_EXIT_SHUTDOWN:
        return errorOutcome(vcpu, "Stop", "triple fault (KVM_EXIT_SHUTDOWN); the guest shut down");
      case KVM_EXIT_FAIL_ENTRY: {
        const hw = dv.getBigUint64(KVM_RUN.failEntry.hardwareEntryFailureReason, LE);
        return errorOutcome(
          vcpu,
          "Crash",
          `hardware entry failed (KVM_EXIT_FAIL_ENTRY, reason 0x${hw.toString(16)})`,
        );
      }
      case KVM_EXIT_INTERNAL_ERROR: {
        const sub = dv.getUint32(KVM_RUN.internal.suberror, LE);
        const ndata = Math.min(dv.getUint32(KVM_RUN.internal.ndata, LE), 16);
        const extra: string[] = [];
        for (let i = 0; i < ndata; i++)
          extra.push(`0x${dv.getBigUint64(KVM_RUN.internal.data + i * 8, LE).toString(16)}`);
        const what = KVM_INTERNAL_ERROR_NAMES[sub] ?? `suberror ${sub}`;
        return errorOutcome(
          vcpu,
          "Crash",
          `KVM internal error: ${what} (KVM_EXIT_INTERNAL_ERROR${extra.length ? `, data ${extra.join(" ")}` : ""})`,
        );
      }
      case KVM_EXIT_SYSTEM_EVENT: {
        const type = dv.getUint32(KVM_RUN.systemEvent.type, LE);
        if (type === KVM_SYSTEM_EVENT_RESET)
          return { state: "Reset", reason: `vCPU ${vcpu.id}: system reset event` };
        if (type === KVM_SYSTEM_EVENT_SHUTDOWN)
          return { state: "Stop", reason: `vCPU ${vcpu.id}: system shutdown event` };
        if (type === KVM_SYSTEM_EVENT_CRASH)
          return { state: "Crash", reason: `vCPU ${vcpu.id}: system crash event` };
        guestLog.warn("system event", `unknown system event ${type}`);
        continue;
      }
      default:
        return errorOutcome(vcpu, "Crash", `unexpected exit ${KVM_EXIT_NAMES[reason] ?? `reason ${reason}`}`);
    }
  }
}
