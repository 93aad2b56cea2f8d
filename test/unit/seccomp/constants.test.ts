import { expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { POLICY_CONSTANTS } from "../../../src/jail/seccomp/constants.ts";
import { X86_64_SYSCALLS } from "../../../src/jail/seccomp/syscall_table.ts";

// The uapi headers the constants table cites, as installed by linux-libc-dev (and glibc for the socket ones).
const HEADERS = [
  "/usr/include/asm-generic/mman-common.h",
  "/usr/include/x86_64-linux-gnu/asm/mman.h",
  "/usr/include/asm-generic/mman.h",
  "/usr/include/linux/mman.h",
  "/usr/include/linux/eventfd.h",
  "/usr/include/asm-generic/socket.h",
  "/usr/include/linux/sched.h",
  "/usr/include/x86_64-linux-gnu/asm/signal.h",
  "/usr/include/asm-generic/signal-defs.h",
  "/usr/include/linux/futex.h",
  "/usr/include/asm-generic/fcntl.h",
  "/usr/include/linux/fcntl.h",
  "/usr/include/linux/falloc.h",
  "/usr/include/linux/fs.h",
  "/usr/include/linux/memfd.h",
  "/usr/include/linux/eventpoll.h",
  "/usr/include/linux/random.h",
  "/usr/include/linux/time.h",
  "/usr/include/asm-generic/ioctls.h",
  "/usr/include/linux/prctl.h",
  "/usr/include/asm-generic/resource.h",
  "/usr/include/asm-generic/errno-base.h",
  "/usr/include/asm-generic/errno.h",
  "/usr/include/x86_64-linux-gnu/bits/socket.h",
  "/usr/include/x86_64-linux-gnu/bits/socket_type.h",
];

/** NAME -> value for every `#define NAME <number literal>` in the headers (first definition wins). */
function headerDefines(): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const path of HEADERS.filter(existsSync)) {
    for (const m of readFileSync(path, "utf8").matchAll(
      /^#\s*define\s+(\w+)\s+\(?\s*(-?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)[uUlL]*\s*\)?\s*(?:\/\*.*)?$/gm,
    )) {
      const [, name, minus, literal] = m;
      if (out.has(name!)) continue;
      const value =
        literal!.length > 1 && literal!.startsWith("0") && !/^0[xX]/.test(literal!)
          ? BigInt(`0o${literal!.slice(1)}`)
          : BigInt(literal!);
      out.set(name!, minus ? -value : value);
    }
  }
  return out;
}

test("every constant the installed uapi headers define as a number has the header's value", () => {
  const defines = headerDefines();
  const compared = [...POLICY_CONSTANTS].filter(([name]) => defines.has(name));
  const mismatches = compared
    .filter(([name, value]) => defines.get(name) !== value)
    .map(([name, value]) => `${name}: ours ${value}, header ${defines.get(name)}`);
  expect(mismatches).toEqual([]);
  // Most of the table is checkable here; the rest are defined through other macros (e.g. EFD_CLOEXEC = O_CLOEXEC).
  expect(compared.length).toBeGreaterThan(200);
});

test("the syscall table matches the installed asm/unistd_64.h", () => {
  const header = readFileSync("/usr/include/x86_64-linux-gnu/asm/unistd_64.h", "utf8");
  const fromHeader = [...header.matchAll(/^#define __NR_(\w+)\s+(\d+)$/gm)].map(
    (m) => [m[1]!, Number(m[2])] as const,
  );
  expect(fromHeader.filter(([name, n]) => X86_64_SYSCALLS[name] !== n)).toEqual([]);
  expect(fromHeader.length).toBeGreaterThan(350);
});

test("well-known syscall numbers: read 0, seccomp 317, clone3 435", () => {
  expect([X86_64_SYSCALLS.read, X86_64_SYSCALLS.seccomp, X86_64_SYSCALLS.clone3]).toEqual([0, 317, 435]);
});
