import { describe, expect, test } from "bun:test";
import {
  AUDIT_ARCH_X86_64,
  BPF_JA,
  BPF_JMP,
  BPF_MAXINSNS,
  decodeProgram,
  encodeProgram,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_LOG,
  SOCK_FILTER_SIZE,
  X32_SYSCALL_BIT,
} from "../../../src/jail/seccomp/bpf.ts";
import { compilePolicy, SeccompCompileError } from "../../../src/jail/seccomp/compiler.ts";
import { runFilter } from "../../../src/jail/seccomp/interpreter.ts";
import type { Policy } from "../../../src/jail/seccomp/parser.ts";
import { X86_64_SYSCALLS } from "../../../src/jail/seccomp/syscall_table.ts";
import { compileText, decide, nr } from "./helpers.ts";

const HI = 1n << 32n;
// include/uapi/linux/audit.h: AUDIT_ARCH_I386 = EM_386 (3) | __AUDIT_ARCH_LE.
const AUDIT_ARCH_I386 = 0x40000003;

describe("seccomp compiler: syscall dispatch", () => {
  const program = compileText("read: 1\nwrite: 1\nexit_group: 1\nopenat: return ENOENT");

  test("a listed syscall is allowed", () => {
    expect(decide(program, "write")).toBe("ALLOW");
  });

  test("an unlisted syscall kills the process", () => {
    expect(decide(program, "getcwd")).toBe("KILL_PROCESS");
  });

  test("`return ERRNO` fails the syscall with that errno", () => {
    expect(decide(program, "openat")).toBe("ERRNO(2)");
  });

  test("a syscall number past the table is refused", () => {
    expect(runFilter(program, { nr: 1000 }).action).toBe("KILL_PROCESS");
  });

  test("another architecture is killed even for an allowed number", () => {
    expect(decide(program, "read", [], AUDIT_ARCH_I386)).toBe("KILL_PROCESS");
  });

  test("an x32 syscall (number with __X32_SYSCALL_BIT) is killed", () => {
    expect(runFilter(program, { nr: X32_SYSCALL_BIT | nr("read") }).action).toBe("KILL_PROCESS");
  });

  test("the program starts by checking AUDIT_ARCH_X86_64", () => {
    const [load, check] = program;
    expect(load).toEqual({ code: 0x20, jt: 0, jf: 0, k: 4 });
    expect(check!.k).toBe(AUDIT_ARCH_X86_64);
  });

  test("an empty policy kills every syscall", () => {
    expect(decide(compileText("# nothing"), "read")).toBe("KILL_PROCESS");
  });
});

describe("seccomp compiler: argument filters", () => {
  test("== compares the whole 64-bit argument: a difference in the high half is refused", () => {
    const program = compileText("ioctl: arg1 == 0x5401");
    expect([decide(program, "ioctl", [0, 0x5401]), decide(program, "ioctl", [0, HI + 0x5401n])]).toEqual([
      "ALLOW",
      "KILL_PROCESS",
    ]);
  });

  test("== on a constant with a high half needs both halves", () => {
    const program = compileText("ioctl: arg1 == 0x100000002");
    expect([
      decide(program, "ioctl", [0, 0x100000002n]),
      decide(program, "ioctl", [0, 2]),
      decide(program, "ioctl", [0, 0x100000000n]),
    ]).toEqual(["ALLOW", "KILL_PROCESS", "KILL_PROCESS"]);
  });

  test("!= allows everything but the value", () => {
    const program = compileText("close: arg0 != 2");
    expect([
      decide(program, "close", [2]),
      decide(program, "close", [3]),
      decide(program, "close", [HI + 2n]),
    ]).toEqual(["KILL_PROCESS", "ALLOW", "ALLOW"]);
  });

  test("> and >= compare unsigned 64-bit values, the high half first", () => {
    const gt = compileText("read: arg2 > 0x100000005");
    const ge = compileText("read: arg2 >= 0x100000005");
    const at = (p: ReturnType<typeof compileText>, v: bigint) => decide(p, "read", [0, 0, v]);
    expect([at(gt, 0x100000005n), at(gt, 0x100000006n), at(gt, 0x200000000n), at(gt, 0xffffffffn)]).toEqual([
      "KILL_PROCESS",
      "ALLOW",
      "ALLOW",
      "KILL_PROCESS",
    ]);
    expect([at(ge, 0x100000005n), at(ge, 0x100000004n), at(ge, 0x0ffffffffn)]).toEqual([
      "ALLOW",
      "KILL_PROCESS",
      "KILL_PROCESS",
    ]);
  });

  test("< and <= with a 32-bit constant refuse any value with a high half", () => {
    const lt = compileText("read: arg2 < 10");
    const le = compileText("read: arg2 <= 10");
    const at = (p: ReturnType<typeof compileText>, v: bigint) => decide(p, "read", [0, 0, v]);
    expect([at(lt, 9n), at(lt, 10n), at(lt, HI + 1n)]).toEqual(["ALLOW", "KILL_PROCESS", "KILL_PROCESS"]);
    expect([at(le, 10n), at(le, 11n), at(le, HI)]).toEqual(["ALLOW", "KILL_PROCESS", "KILL_PROCESS"]);
  });

  test("& allows when any bit of the mask is set, in either half", () => {
    const program = compileText("clone: arg0 & CLONE_THREAD|0x100000000");
    expect([
      decide(program, "clone", [0x10000 | 0x100]),
      decide(program, "clone", [HI]),
      decide(program, "clone", [0x100]),
    ]).toEqual(["ALLOW", "ALLOW", "KILL_PROCESS"]);
  });

  test("`in` allows a subset of the mask and refuses any other bit, in either half", () => {
    const program = compileText("mmap: arg2 in PROT_READ|PROT_WRITE");
    expect([
      decide(program, "mmap", [0, 0, 0]),
      decide(program, "mmap", [0, 0, 3]),
      decide(program, "mmap", [0, 0, 4]),
      decide(program, "mmap", [0, 0, HI | 1n]),
    ]).toEqual(["ALLOW", "ALLOW", "KILL_PROCESS", "KILL_PROCESS"]);
  });

  test("`in ~PROT_EXEC` refuses only the exec bit", () => {
    const program = compileText("mprotect: arg2 in ~PROT_EXEC");
    expect([decide(program, "mprotect", [0, 0, 3]), decide(program, "mprotect", [0, 0, 7])]).toEqual([
      "ALLOW",
      "KILL_PROCESS",
    ]);
  });

  test("&& needs every atom of a clause", () => {
    const program = compileText("futex: arg1 == 1 && arg2 == 2");
    expect([
      decide(program, "futex", [0, 1, 2]),
      decide(program, "futex", [0, 1, 3]),
      decide(program, "futex", [0, 0, 2]),
    ]).toEqual(["ALLOW", "KILL_PROCESS", "KILL_PROCESS"]);
  });

  test("|| allows when any clause holds", () => {
    const program = compileText("futex: arg1 == 1 && arg2 == 2 || arg3 == 7");
    expect([
      decide(program, "futex", [0, 1, 2, 0]),
      decide(program, "futex", [0, 0, 0, 7]),
      decide(program, "futex", [0, 1, 0, 8]),
    ]).toEqual(["ALLOW", "ALLOW", "KILL_PROCESS"]);
  });

  test("`; return EPERM` is the action when the expression is false", () => {
    const program = compileText("ioctl: arg1 == TCGETS; return EPERM");
    expect([decide(program, "ioctl", [1, 0x5401]), decide(program, "ioctl", [1, 0x5402])]).toEqual([
      "ALLOW",
      "ERRNO(1)",
    ]);
  });

  test("merged lines for one syscall allow when either holds", () => {
    const program = compileText("prctl: arg0 == PR_SET_VMA\nprctl: arg0 == PR_SET_NAME");
    expect([
      decide(program, "prctl", [15]),
      decide(program, "prctl", [0x53564d41]),
      decide(program, "prctl", [38]),
    ]).toEqual(["ALLOW", "ALLOW", "KILL_PROCESS"]);
  });
});

describe("seccomp compiler: default action", () => {
  test("logFailures logs unlisted syscalls instead of killing", () => {
    expect(decide(compileText("read: 1", { logFailures: true }), "getcwd")).toBe("LOG");
  });

  test("logFailures logs a failed argument filter", () => {
    expect(decide(compileText("ioctl: arg1 == 1", { logFailures: true }), "ioctl", [0, 2])).toBe("LOG");
  });

  test("logFailures keeps an explicit `return ERRNO`", () => {
    expect(decide(compileText("open: return ENOENT", { logFailures: true }), "open")).toBe("ERRNO(2)");
  });

  test("logFailures still kills another architecture", () => {
    expect(decide(compileText("read: 1", { logFailures: true }), "read", [], AUDIT_ARCH_I386)).toBe(
      "KILL_PROCESS",
    );
  });

  test("@default trap is used for unlisted syscalls", () => {
    expect(decide(compileText("@default trap\nread: 1"), "write")).toBe("TRAP");
  });
});

describe("seccomp compiler: program shape", () => {
  const allNames = Object.keys(X86_64_SYSCALLS);
  const big = compileText(
    allNames.map((n, i) => (i % 3 === 0 ? `${n}: arg0 == ${i}` : `${n}: 1`)).join("\n"),
  );

  test("a policy with every x86-64 syscall (> 300) decides each one correctly", () => {
    const wrong = allNames.filter((n, i) => {
      const allowed = decide(big, n, [i]);
      const refusedWhenFiltered = i % 3 === 0 ? decide(big, n, [i + 1]) : "KILL_PROCESS";
      return allowed !== "ALLOW" || refusedWhenFiltered !== "KILL_PROCESS";
    });
    expect(allNames.length).toBeGreaterThan(300);
    expect(wrong).toEqual([]);
  });

  test("jumps longer than 255 instructions go through ja", () => {
    const longJumps = big.filter((i) => i.code === (BPF_JMP | BPF_JA) && i.k > 255);
    expect(longJumps.length).toBeGreaterThan(0);
  });

  test("the binary search keeps a syscall lookup short in a large policy", () => {
    expect(runFilter(big, { nr: nr("write"), args: [1] }).steps).toBeLessThan(20);
  });

  test("a program over BPF_MAXINSNS is refused", () => {
    const policy: Policy = {
      defaultAction: null,
      files: ["/p/huge.policy"],
      rules: Array.from({ length: 2100 }, (_, i) => ({
        name: `s${i}`,
        nr: i,
        where: { file: "/p/huge.policy", line: i + 1 },
        clauses: [[{ arg: 0, op: "==" as const, value: BigInt(i) }]],
        action: null,
      })),
    };
    expect(() => compilePolicy(policy)).toThrow(SeccompCompileError);
    expect(() => compilePolicy(policy)).toThrow(/more than BPF_MAXINSNS \(4096\)/);
  });

  test("every jump lands inside the program", () => {
    const inside = big.every((ins, pc) => {
      if ((ins.code & 0x07) !== BPF_JMP) return true;
      const targets = (ins.code & 0xf0) === BPF_JA ? [pc + 1 + ins.k] : [pc + 1 + ins.jt, pc + 1 + ins.jf];
      return targets.every((t) => t < big.length);
    });
    expect(inside).toBe(true);
  });

  test("compiled programs stay within BPF_MAXINSNS", () => {
    expect(big.length).toBeLessThanOrEqual(BPF_MAXINSNS);
  });

  test("the encoded program is 8 bytes per instruction and decodes back", () => {
    const program = compileText("read: 1");
    const bytes = encodeProgram(program);
    expect(bytes.length).toBe(program.length * SOCK_FILTER_SIZE);
    expect(decodeProgram(bytes)).toEqual(program);
  });

  test("SECCOMP_RET values come from include/uapi/linux/seccomp.h", () => {
    expect([SECCOMP_RET_ALLOW, SECCOMP_RET_LOG]).toEqual([0x7fff0000, 0x7ffc0000]);
  });
});
