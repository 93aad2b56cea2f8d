// The GDB stub's view of a running VM (DebugTarget, stub.ts): registers through KVM_GET/SET_REGS, SREGS, FPU and
// MSR_KERNEL_GS_BASE; guest virtual memory through KVM_TRANSLATE and GuestMemory; breakpoints armed with
// KVM_SET_GUEST_DEBUG on every vCPU (software ones as int3 bytes written into guest memory, hardware ones in DR0-DR3
// with DR7); stopping and resuming through the vCPU pause protocol (vcpu_pause.ts). A vCPU that takes a debug exit
// parks itself with the pause flag set (vcpu_worker.ts); handleDebugExit then parks the others and reports the stop.
import {
  BP_VECTOR,
  DB_VECTOR,
  KVM_GUESTDBG_ENABLE,
  KVM_GUESTDBG_INJECT_BP,
  KVM_GUESTDBG_INJECT_DB,
  KVM_GUESTDBG_SINGLESTEP,
  KVM_GUESTDBG_USE_HW_BP,
  KVM_GUESTDBG_USE_SW_BP,
  type DebugExit,
} from "../../../ffi/kvm_debug.ts";
import { MSR_KERNEL_GS_BASE } from "../../arch/x86_64/msrs.ts";
import { logger } from "../../base/log.ts";
import { setGuestDebug, translate } from "../../hypervisor/vcpu_debug.ts";
import type { Vcpu } from "../../hypervisor/vcpu.ts";
import type { GuestMemory } from "../../vm_memory/guest_memory.ts";
import type { DebugTarget, StopReason } from "./stub.ts";
import { decodeRegisters, encodeRegisters, type CpuRegisterState } from "./x86_64_registers.ts";

const log = logger("vmm::gdb");
const PAGE = 4096n;
const INT3 = 0xcc;
/** x86 has four address breakpoint registers, DR0-DR3. */
export const HW_BREAKPOINTS = 4;
/** DR6.B0-B3 (a breakpoint register matched) and DR6.BS (single step), Intel SDM vol. 3 section 18.2.3. */
const DR6_B_MASK = 0xfn;
const DR6_BS = 1n << 14n;
/** DR7 bit 10 reads as 1; Gn (global enable of DRn) is bit 2n+1; R/Wn = 00 and LENn = 00 break on execution. */
const DR7_FIXED = 1n << 10n;

/** What the VMM lends the target. */
export interface VmDebugHooks {
  readonly vcpus: readonly Vcpu[];
  readonly memory: GuestMemory;
  /** Parks every vCPU outside KVM_RUN (VcpuThreads.pause). */
  pause(): Promise<void>;
  /** Lets the parked vCPUs run (VcpuThreads.resume). */
  resume(): void;
  /** Ends the VM (gdb's kill). */
  kill(): void;
  /** The two vCPU debug ioctls (src/hypervisor/vcpu_debug.ts); unit tests give their own. */
  readonly ioctls?: {
    setGuestDebug: typeof setGuestDebug;
    translate: typeof translate;
  };
}

/** The DR7 value that enables the given DR0-DR3 slots as execution breakpoints. */
export function dr7For(slots: readonly (bigint | undefined)[]): bigint {
  let dr7 = DR7_FIXED;
  slots.forEach((addr, i) => {
    if (addr !== undefined) dr7 |= 1n << BigInt(i * 2 + 1);
  });
  return dr7;
}

export class VmDebugTarget implements DebugTarget {
  /** Software breakpoints by guest virtual address: where the int3 went and the byte it replaced. */
  readonly #sw = new Map<bigint, { phys: number; original: number }>();
  readonly #hw: (bigint | undefined)[] = new Array(HW_BREAKPOINTS).fill(undefined);
  #stepCpu: number | undefined;
  #stopped = true;
  /** Told of every stop (the stub reports it to gdb). */
  onStop: (cpu: number, reason: StopReason) => void = () => {};

  readonly #ioctls: NonNullable<VmDebugHooks["ioctls"]>;

  constructor(readonly hooks: VmDebugHooks) {
    this.#ioctls = hooks.ioctls ?? { setGuestDebug, translate };
  }

  get cpuCount(): number {
    return this.hooks.vcpus.length;
  }

  get isStopped(): boolean {
    return this.#stopped;
  }

  #vcpu(cpu: number): Vcpu {
    return this.hooks.vcpus[cpu]!;
  }

  #state(cpu: number): CpuRegisterState {
    const v = this.#vcpu(cpu);
    const msr = v.getMsrs([MSR_KERNEL_GS_BASE])[0];
    return { regs: v.getRegs(), sregs: v.getSregs(), fpu: v.getFpu(), kernelGsBase: msr?.data ?? 0n };
  }

  readRegisters(cpu: number): Uint8Array {
    return encodeRegisters(this.#state(cpu));
  }

  writeRegisters(cpu: number, bytes: Uint8Array): void {
    const state = this.#state(cpu);
    const changed = decodeRegisters(bytes, state);
    const v = this.#vcpu(cpu);
    if (changed.has("regs")) v.setRegs(state.regs);
    if (changed.has("sregs")) v.setSregs(state.sregs);
    if (changed.has("fpu")) v.setFpu(state.fpu);
    if (changed.has("msr")) v.setMsrs([{ index: MSR_KERNEL_GS_BASE, data: state.kernelGsBase }]);
  }

  /** Guest physical pieces of [addr, addr + length), stopping at the first unmapped page or hole in RAM. */
  #pieces(cpu: number, addr: bigint, length: number): { phys: number; length: number }[] {
    const pieces: { phys: number; length: number }[] = [];
    let at = addr;
    let left = length;
    while (left > 0) {
      const inPage = Number(PAGE - (at % PAGE));
      const n = Math.min(inPage, left);
      const t = this.#ioctls.translate(this.#vcpu(cpu), at);
      if (!t.valid || !this.hooks.memory.isValidRange(Number(t.physical), n)) break;
      pieces.push({ phys: Number(t.physical), length: n });
      at = BigInt.asUintN(64, at + BigInt(n));
      left -= n;
    }
    return pieces;
  }

  readMemory(cpu: number, addr: bigint, length: number): Uint8Array {
    const pieces = this.#pieces(cpu, addr, length);
    const out = new Uint8Array(pieces.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of pieces) {
      out.set(this.hooks.memory.slice(p.phys, p.length), o);
      o += p.length;
    }
    // gdb sees guest memory as the guest wrote it, not our int3 bytes.
    for (const [va, bp] of this.#sw) {
      const off = va - addr;
      if (off >= 0n && off < BigInt(out.length)) out[Number(off)] = bp.original;
    }
    return out;
  }

  writeMemory(cpu: number, addr: bigint, data: Uint8Array): boolean {
    const pieces = this.#pieces(cpu, addr, data.length);
    if (pieces.reduce((s, p) => s + p.length, 0) !== data.length) return false;
    let o = 0;
    for (const p of pieces) {
      this.hooks.memory.slice(p.phys, p.length).set(data.subarray(o, o + p.length));
      o += p.length;
    }
    return true;
  }

  insertBreakpoint(type: "sw" | "hw", cpu: number, addr: bigint): boolean {
    if (type === "hw") {
      if (this.#hw.includes(addr)) return true;
      const slot = this.#hw.indexOf(undefined);
      if (slot < 0) return false;
      this.#hw[slot] = addr;
      return true;
    }
    if (this.#sw.has(addr)) return true;
    const [piece] = this.#pieces(cpu, addr, 1);
    if (!piece) return false;
    const byte = this.hooks.memory.slice(piece.phys, 1);
    this.#sw.set(addr, { phys: piece.phys, original: byte[0]! });
    byte[0] = INT3;
    return true;
  }

  removeBreakpoint(type: "sw" | "hw", _cpu: number, addr: bigint): boolean {
    if (type === "hw") {
      const slot = this.#hw.indexOf(addr);
      if (slot < 0) return false;
      this.#hw[slot] = undefined;
      return true;
    }
    const bp = this.#sw.get(addr);
    if (!bp) return false;
    const byte = this.hooks.memory.slice(bp.phys, 1);
    if (byte[0] === INT3) byte[0] = bp.original;
    this.#sw.delete(addr);
    return true;
  }

  /** KVM_SET_GUEST_DEBUG on every vCPU from the breakpoints and the step request (`extra` for one vCPU). */
  #arm(extraFor?: { cpu: number; control: number }): void {
    const anyHw = this.#hw.some((a) => a !== undefined);
    const base = (this.#sw.size > 0 ? KVM_GUESTDBG_USE_SW_BP : 0) | (anyHw ? KVM_GUESTDBG_USE_HW_BP : 0);
    const debugreg = [...this.#hw.map((a) => a ?? 0n), 0n, 0n, 0n, anyHw ? dr7For(this.#hw) : 0n];
    this.hooks.vcpus.forEach((v, cpu) => {
      let control = base | (cpu === this.#stepCpu ? KVM_GUESTDBG_SINGLESTEP : 0);
      if (extraFor?.cpu === cpu) control |= extraFor.control;
      this.#ioctls.setGuestDebug(v, { control: control === 0 ? 0 : control | KVM_GUESTDBG_ENABLE, debugreg });
    });
  }

  resume(stepCpu?: number): void {
    this.#stepCpu = stepCpu;
    this.#arm();
    this.#stopped = false;
    this.hooks.resume();
  }

  async interrupt(): Promise<void> {
    if (this.#stopped) return;
    await this.hooks.pause();
    this.#stop(0, "interrupt");
  }

  #stop(cpu: number, reason: StopReason): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stepCpu = undefined;
    this.onStop(cpu, reason);
  }

  /** A vCPU's KVM_EXIT_DEBUG (it is parked, the pause flag set): stop the VM for gdb, or give the guest its trap. */
  async handleDebugExit(cpu: number, exit: DebugExit): Promise<void> {
    await this.hooks.pause();
    if (this.#stopped) return; // another vCPU's stop won; this one's trap fires again when it runs
    let reason: StopReason | undefined;
    if (exit.exception === BP_VECTOR && this.#sw.has(exit.pc)) reason = "swbreak";
    else if (
      exit.exception === DB_VECTOR &&
      (exit.dr6 & DR6_B_MASK) !== 0n &&
      this.#hw.some((a) => a !== undefined)
    )
      reason = "hwbreak";
    else if (exit.exception === DB_VECTOR && cpu === this.#stepCpu) reason = "step";
    if (reason === undefined) {
      // The guest's own int3 or debug trap (Linux patches its text with int3): hand it back to the guest.
      const inject = exit.exception === BP_VECTOR ? KVM_GUESTDBG_INJECT_BP : KVM_GUESTDBG_INJECT_DB;
      log.debug(
        `vCPU ${cpu}: guest's own exception ${exit.exception} at 0x${exit.pc.toString(16)}; reinjected`,
      );
      this.#arm({ cpu, control: inject });
      this.hooks.resume();
      return;
    }
    if (exit.exception === DB_VECTOR && (exit.dr6 & DR6_BS) === 0n && reason === "step")
      log.debug(`vCPU ${cpu}: single step reported without DR6.BS`);
    this.#stop(cpu, reason);
  }

  detach(): void {
    for (const addr of [...this.#sw.keys()]) this.removeBreakpoint("sw", 0, addr);
    this.#hw.fill(undefined);
    this.resume();
  }

  kill(): void {
    this.hooks.kill();
  }
}
