// VmDebugTarget over fake vCPU ioctls (identity translation, recorded KVM_SET_GUEST_DEBUG calls) and anonymous
// guest memory: how breakpoints are armed and how debug exits become stops or go back to the guest.
import { describe, expect, test } from "bun:test";
import {
  BP_VECTOR,
  DB_VECTOR,
  KVM_GUESTDBG_ENABLE,
  KVM_GUESTDBG_INJECT_BP,
  KVM_GUESTDBG_SINGLESTEP,
  KVM_GUESTDBG_USE_HW_BP,
  KVM_GUESTDBG_USE_SW_BP,
  type KvmGuestDebug,
} from "../../../ffi/kvm_debug.ts";
import type { Vcpu } from "../../../src/hypervisor/vcpu.ts";
import { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";
import { VmDebugTarget } from "../../../src/vmm/gdb/vm_target.ts";

const RAM = 0x10000;

function setup(cpus = 2) {
  const memory = GuestMemory.anonymous([{ guestAddr: 0, size: RAM }]);
  const armed: { cpu: number; debug: KvmGuestDebug }[] = [];
  const events: string[] = [];
  const target = new VmDebugTarget({
    vcpus: Array.from({ length: cpus }, (_, id) => ({ id }) as Vcpu),
    memory,
    pause: async () => void events.push("pause"),
    resume: () => void events.push("resume"),
    kill: () => void events.push("kill"),
    ioctls: {
      setGuestDebug: (vcpu, debug) => void armed.push({ cpu: vcpu.id, debug }),
      translate: (_vcpu, linear) => ({
        physical: linear,
        valid: linear < BigInt(RAM),
        writeable: true,
      }),
    },
  });
  const stops: string[] = [];
  target.onStop = (cpu, reason) => stops.push(`${cpu} ${reason}`);
  return { memory, armed, events, target, stops };
}

describe("VmDebugTarget", () => {
  test("a software breakpoint writes int3 and reads back as the original byte", () => {
    const { memory, target } = setup();
    memory.write(0x1000, Uint8Array.of(0x48, 0xc7));

    expect(target.insertBreakpoint("sw", 0, 0x1000n)).toBe(true);

    expect(memory.read(0x1000, 1)[0]).toBe(0xcc);
    expect([...target.readMemory(0, 0x1000n, 2)]).toEqual([0x48, 0xc7]);
  });

  test("removing a software breakpoint restores the byte", () => {
    const { memory, target } = setup();
    memory.write(0x1000, Uint8Array.of(0x48));
    target.insertBreakpoint("sw", 0, 0x1000n);

    expect(target.removeBreakpoint("sw", 0, 0x1000n)).toBe(true);

    expect(memory.read(0x1000, 1)[0]).toBe(0x48);
  });

  test("a breakpoint on an unmapped address is refused", () => {
    expect(setup().target.insertBreakpoint("sw", 0, BigInt(RAM) + 0x10n)).toBe(false);
  });

  test("a fifth hardware breakpoint is refused", () => {
    const { target } = setup();
    for (let i = 0; i < 4; i++) expect(target.insertBreakpoint("hw", 0, BigInt(0x1000 + i))).toBe(true);

    expect(target.insertBreakpoint("hw", 0, 0x2000n)).toBe(false);
  });

  test("reads stop at the first unmapped page; a write across it writes nothing", () => {
    const { target, memory } = setup();

    expect(target.readMemory(0, BigInt(RAM - 2), 4).length).toBe(2);
    expect(target.writeMemory(0, BigInt(RAM - 2), Uint8Array.of(1, 2, 3, 4))).toBe(false);
    expect([...memory.read(RAM - 2, 2)]).toEqual([0, 0]);
  });

  test("resume arms every vCPU with the breakpoints and single-steps only the chosen one", () => {
    const { target, armed, events } = setup();
    target.insertBreakpoint("sw", 0, 0x1000n);
    target.insertBreakpoint("hw", 0, 0x2000n);

    target.resume(1);

    const base = KVM_GUESTDBG_ENABLE | KVM_GUESTDBG_USE_SW_BP | KVM_GUESTDBG_USE_HW_BP;
    expect(armed.map((a) => a.debug.control)).toEqual([base, base | KVM_GUESTDBG_SINGLESTEP]);
    expect(armed[0]!.debug.debugreg[0]).toBe(0x2000n);
    expect(armed[0]!.debug.debugreg[7]).toBe(0x402n);
    expect(events).toEqual(["resume"]);
  });

  test("without breakpoints or stepping guest debugging is switched off", () => {
    const { target, armed } = setup(1);

    target.resume();

    expect(armed[0]!.debug.control).toBe(0);
  });

  test("an int3 at our breakpoint stops the VM as swbreak", async () => {
    const { target, stops } = setup();
    target.insertBreakpoint("sw", 0, 0x1000n);
    target.resume();

    await target.handleDebugExit(1, { exception: BP_VECTOR, pc: 0x1000n, dr6: 0n });

    expect(stops).toEqual(["1 swbreak"]);
  });

  test("the guest's own int3 goes back to it and the VM runs on", async () => {
    const { target, stops, armed, events } = setup(1);
    target.insertBreakpoint("sw", 0, 0x1000n);
    target.resume();

    await target.handleDebugExit(0, { exception: BP_VECTOR, pc: 0x3000n, dr6: 0n });

    expect(stops).toEqual([]);
    expect(armed.at(-1)!.debug.control & KVM_GUESTDBG_INJECT_BP).toBe(KVM_GUESTDBG_INJECT_BP);
    expect(events).toEqual(["resume", "pause", "resume"]);
  });

  test("a debug exception with DR6.B0 stops as hwbreak, one with DR6.BS on the stepping vCPU as step", async () => {
    const hw = setup();
    hw.target.insertBreakpoint("hw", 0, 0x2000n);
    hw.target.resume();
    await hw.target.handleDebugExit(0, { exception: DB_VECTOR, pc: 0x2000n, dr6: 0xffff0ff1n });
    const step = setup();
    step.target.resume(1);
    await step.target.handleDebugExit(1, { exception: DB_VECTOR, pc: 0x1003n, dr6: 0xffff4ff0n });

    expect(hw.stops).toEqual(["0 hwbreak"]);
    expect(step.stops).toEqual(["1 step"]);
  });

  test("a second debug exit while the VM is stopped is left to fire again", async () => {
    const { target, stops } = setup();
    target.insertBreakpoint("sw", 0, 0x1000n);
    target.resume();

    await target.handleDebugExit(0, { exception: BP_VECTOR, pc: 0x1000n, dr6: 0n });
    await target.handleDebugExit(1, { exception: BP_VECTOR, pc: 0x1000n, dr6: 0n });

    expect(stops).toEqual(["0 swbreak"]);
  });

  test("detach removes every breakpoint and lets the VM run", () => {
    const { target, memory, armed, events } = setup(1);
    memory.write(0x1000, Uint8Array.of(0x90));
    target.insertBreakpoint("sw", 0, 0x1000n);
    target.insertBreakpoint("hw", 0, 0x2000n);

    target.detach();

    expect(memory.read(0x1000, 1)[0]).toBe(0x90);
    expect(armed.at(-1)!.debug.control).toBe(0);
    expect(events).toEqual(["resume"]);
  });
});
