import { describe, expect, test } from "bun:test";
import { GdbStub, MAX_MEMORY_BYTES, type DebugTarget } from "../../../src/vmm/gdb/stub.ts";
import {
  G_PACKET_BYTES,
  REGISTER_OFFSETS,
  RegisterWriteError,
  regnum,
} from "../../../src/vmm/gdb/x86_64_registers.ts";

/** A target over plain arrays: 2 vCPUs, 64 KiB of "virtual" memory at 0x1000. */
class FakeTarget implements DebugTarget {
  readonly cpuCount = 2;
  readonly regs = [new Uint8Array(G_PACKET_BYTES), new Uint8Array(G_PACKET_BYTES)];
  readonly memory = new Uint8Array(0x10000);
  readonly calls: string[] = [];
  breakpointsLeft = 1;

  readRegisters(cpu: number) {
    return this.regs[cpu]!.slice();
  }
  writeRegisters(cpu: number, bytes: Uint8Array) {
    if (bytes[REGISTER_OFFSETS[regnum("cs")]!] === 0xee) throw new RegisterWriteError("no");
    this.regs[cpu]!.set(bytes);
  }
  readMemory(_cpu: number, addr: bigint, length: number) {
    const start = Number(addr) - 0x1000;
    if (start < 0) return new Uint8Array();
    return this.memory.slice(start, Math.min(start + length, this.memory.length));
  }
  writeMemory(_cpu: number, addr: bigint, data: Uint8Array) {
    const start = Number(addr) - 0x1000;
    if (start < 0 || start + data.length > this.memory.length) return false;
    this.memory.set(data, start);
    return true;
  }
  insertBreakpoint(type: "sw" | "hw", cpu: number, addr: bigint) {
    this.calls.push(`insert ${type} ${cpu} ${addr.toString(16)}`);
    return this.breakpointsLeft-- > 0;
  }
  removeBreakpoint(type: "sw" | "hw", cpu: number, addr: bigint) {
    this.calls.push(`remove ${type} ${cpu} ${addr.toString(16)}`);
    return true;
  }
  resume(stepCpu?: number) {
    this.calls.push(`resume ${stepCpu ?? "all"}`);
  }
  async interrupt() {
    this.calls.push("interrupt");
  }
  detach() {
    this.calls.push("detach");
  }
  kill() {
    this.calls.push("kill");
  }
}

function setup() {
  const target = new FakeTarget();
  const sent: string[] = [];
  const stub = new GdbStub(target, (d) => sent.push(d));
  return { target, stub, sent };
}

describe("GDB stub packets", () => {
  test("qSupported offers the target description and breakpoint kinds", () => {
    const reply = setup().stub.handle("qSupported:multiprocess+;swbreak+;hwbreak+");

    expect(reply).toBe("PacketSize=4000;qXfer:features:read+;swbreak+;hwbreak+");
  });

  test("target.xml is served in chunks, the last one marked l", () => {
    const { stub } = setup();
    const first = stub.handle("qXfer:features:read:target.xml:0,40")!;
    const rest = stub.handle("qXfer:features:read:target.xml:40,ffff")!;

    expect(first[0]).toBe("m");
    expect(first.length).toBe(0x41);
    expect(rest[0]).toBe("l");
    expect(first.slice(1) + rest.slice(1)).toContain("i386:x86-64");
  });

  test("an unknown annex is refused", () => {
    expect(setup().stub.handle("qXfer:features:read:other.xml:0,10")).toBe("E00");
  });

  test("the stop reply before any resume names thread 1 and SIGTRAP", () => {
    expect(setup().stub.handle("?")).toBe("T05thread:1;");
  });

  test("threads are the vCPUs, numbered from 1", () => {
    const { stub } = setup();

    expect(stub.handle("qfThreadInfo")).toBe("m1,2");
    expect(stub.handle("qsThreadInfo")).toBe("l");
    expect(stub.handle("T2")).toBe("OK");
    expect(stub.handle("T3")).toBe("E01");
  });

  test("Hg selects the vCPU whose registers g returns", () => {
    const { stub, target } = setup();
    target.regs[1]![0] = 0xab;

    expect(stub.handle("Hg2")).toBe("OK");
    expect(stub.handle("g")!.slice(0, 2)).toBe("ab");
    expect(stub.handle("qC")).toBe("QC2");
  });

  test("P writes one register and p reads it back", () => {
    const { stub } = setup();
    const rip = regnum("rip").toString(16);

    expect(stub.handle(`P${rip}=efbeadde00000000`)).toBe("OK");
    expect(stub.handle(`p${rip}`)).toBe("efbeadde00000000");
  });

  test("P with a value of the wrong size is refused", () => {
    expect(setup().stub.handle(`P${regnum("rip").toString(16)}=efbe`)).toBe("E01");
  });

  test("a register write the target refuses is an error", () => {
    expect(setup().stub.handle(`P${regnum("cs").toString(16)}=ee000000`)).toBe("E16");
  });

  test("G with the full register file writes it", () => {
    const { stub, target } = setup();

    expect(stub.handle(`G${"01".repeat(G_PACKET_BYTES)}`)).toBe("OK");
    expect(target.regs[0]!.every((b) => b === 1)).toBe(true);
  });

  test("m reads memory and M writes it", () => {
    const { stub } = setup();

    expect(stub.handle("M1004,2:beef")).toBe("OK");
    expect(stub.handle("m1003,4")).toBe("00beef00");
  });

  test("m of unreadable memory is an error, a longer read than the limit is refused", () => {
    const { stub } = setup();

    expect(stub.handle("m10,4")).toBe("E14");
    expect(stub.handle(`m1000,${(MAX_MEMORY_BYTES + 1).toString(16)}`)).toBe("E01");
  });

  test("M whose data does not match its length is refused", () => {
    expect(setup().stub.handle("M1000,4:beef")).toBe("E01");
  });

  test("Z0 and Z1 reach the target; a refused insert is an error; watchpoints are unsupported", () => {
    const { stub, target } = setup();

    expect(stub.handle("Z0,200026,1")).toBe("OK");
    expect(stub.handle("Z1,20000c,1")).toBe("E16");
    expect(stub.handle("z0,200026,1")).toBe("OK");
    expect(stub.handle("Z2,1000,4")).toBe("");
    expect(target.calls).toEqual(["insert sw 0 200026", "insert hw 0 20000c", "remove sw 0 200026"]);
  });

  test("c resumes every vCPU and the next stop is reported with its reason", () => {
    const { stub, target, sent } = setup();

    expect(stub.handle("c")).toBeUndefined();
    stub.stopped(1, "swbreak");

    expect(target.calls).toEqual(["resume all"]);
    expect(sent).toEqual(["T05thread:2;swbreak:;"]);
  });

  test("s steps the Hc vCPU", () => {
    const { stub, target } = setup();
    stub.handle("Hc2");

    stub.handle("s");

    expect(target.calls).toEqual(["resume 1"]);
  });

  test("a stop while nobody waits is not sent but answers the next ?", () => {
    const { stub, sent } = setup();

    stub.stopped(0, "hwbreak");

    expect(sent).toEqual([]);
    expect(stub.handle("?")).toBe("T05thread:1;hwbreak:;");
  });

  test("Ctrl-C interrupts a running target and the stop says SIGINT", async () => {
    const { stub, target, sent } = setup();
    stub.handle("c");

    await stub.interrupt();
    stub.stopped(0, "interrupt");

    expect(target.calls).toEqual(["resume all", "interrupt"]);
    expect(sent).toEqual(["T02thread:1;"]);
  });

  test("D detaches and k kills", () => {
    const { stub, target } = setup();

    expect(stub.handle("D")).toBe("OK");
    expect(stub.handle("k")).toBeUndefined();
    expect(target.calls).toEqual(["detach", "kill"]);
  });

  test("unknown packets get the empty reply", () => {
    expect(setup().stub.handle("vCont?")).toBe("");
    expect(setup().stub.handle("X1000,0:")).toBe("");
  });
});
