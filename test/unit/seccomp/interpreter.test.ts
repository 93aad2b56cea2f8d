import { describe, expect, test } from "bun:test";
import {
  BPF_ABS,
  BPF_ALU,
  BPF_AND,
  BPF_DIV,
  BPF_JA,
  BPF_JEQ,
  BPF_JMP,
  BPF_K,
  BPF_LD,
  BPF_MEM,
  BPF_RET,
  BPF_ST,
  BPF_W,
  encodeProgram,
  type Instruction,
  SECCOMP_RET_ALLOW,
} from "../../../src/jail/seccomp/bpf.ts";
import { BpfError, encodeSeccompData, runFilter } from "../../../src/jail/seccomp/interpreter.ts";

const ld = (k: number): Instruction => ({ code: BPF_LD | BPF_W | BPF_ABS, jt: 0, jf: 0, k });
const ret = (k: number): Instruction => ({ code: BPF_RET | BPF_K, jt: 0, jf: 0, k });

describe("classic BPF interpreter", () => {
  test("seccomp_data puts nr at 0, arch at 4 and args[i] at 16 + 8i, little-endian", () => {
    const dv = encodeSeccompData({ nr: 59, arch: 0xc000003e, args: [0, 0x1122334455667788n] });
    expect([
      dv.getUint32(0, true),
      dv.getUint32(4, true),
      dv.getUint32(24, true),
      dv.getUint32(28, true),
    ]).toEqual([59, 0xc000003e, 0x55667788, 0x11223344]);
  });

  test("a jeq taken on the loaded syscall number reaches its return", () => {
    const prog = [
      ld(0),
      { code: BPF_JMP | BPF_JEQ | BPF_K, jt: 1, jf: 0, k: 39 },
      ret(0),
      ret(SECCOMP_RET_ALLOW),
    ];
    expect(runFilter(prog, { nr: 39 })).toEqual({ value: SECCOMP_RET_ALLOW, action: "ALLOW", steps: 3 });
  });

  test("ja skips k instructions", () => {
    const prog = [{ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: 1 }, ret(0), ret(SECCOMP_RET_ALLOW)];
    expect(runFilter(prog, { nr: 0 }).action).toBe("ALLOW");
  });

  test("ALU and scratch memory work on A", () => {
    const prog = [
      ld(0),
      { code: BPF_ALU | BPF_AND | BPF_K, jt: 0, jf: 0, k: 0xf0 },
      { code: BPF_ST, jt: 0, jf: 0, k: 3 },
      { code: BPF_LD | BPF_MEM, jt: 0, jf: 0, k: 3 },
      { code: BPF_RET | 0x10, jt: 0, jf: 0, k: 0 },
    ];
    expect(runFilter(prog, { nr: 0x1234 }).value).toBe(0x30);
  });

  test("it accepts struct sock_filter bytes", () => {
    expect(runFilter(encodeProgram([ret(SECCOMP_RET_ALLOW)]), { nr: 0 }).action).toBe("ALLOW");
  });

  test("a load past the end of seccomp_data is an error", () => {
    expect(() => runFilter([ld(64), ret(0)], { nr: 0 })).toThrow(/offset 64 out of range/);
  });

  test("a misaligned load is an error", () => {
    expect(() => runFilter([ld(2), ret(0)], { nr: 0 })).toThrow(BpfError);
  });

  test("a jump past the end is an error", () => {
    const prog = [{ code: BPF_JMP | BPF_JEQ | BPF_K, jt: 5, jf: 5, k: 0 }, ret(0)];
    expect(() => runFilter(prog, { nr: 0 })).toThrow(/jump to 6, past the end/);
  });

  test("falling off the end without a return is an error", () => {
    expect(() => runFilter([ld(0)], { nr: 0 })).toThrow(/past the end of a 1-instruction program/);
  });

  test("division by zero is an error", () => {
    expect(() =>
      runFilter([{ code: BPF_ALU | BPF_DIV | BPF_K, jt: 0, jf: 0, k: 0 }, ret(0)], { nr: 0 }),
    ).toThrow(/division by zero/);
  });

  test("an unknown opcode is an error", () => {
    expect(() =>
      runFilter([{ code: BPF_LD | 0x08 | BPF_ABS, jt: 0, jf: 0, k: 0 }, ret(0)], { nr: 0 }),
    ).toThrow(/load size/);
  });
});
