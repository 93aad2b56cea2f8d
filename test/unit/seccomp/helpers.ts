// In-memory policy files for the seccomp tests.
import { compilePolicy, type CompileOptions } from "../../../src/jail/seccomp/compiler.ts";
import type { Instruction } from "../../../src/jail/seccomp/bpf.ts";
import { parsePolicyFile, type Policy } from "../../../src/jail/seccomp/parser.ts";
import { X86_64_SYSCALLS } from "../../../src/jail/seccomp/syscall_table.ts";
import { runFilter } from "../../../src/jail/seccomp/interpreter.ts";

/** Parses `files["/p/main.policy"]` (or `entry`), resolving @include within `files`. */
export function parseFiles(files: Record<string, string>, entry = "/p/main.policy"): Policy {
  return parsePolicyFile(entry, {
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw new Error(`test: no file ${path}`);
      return text;
    },
    exists: (path) => path in files,
  });
}

export function parseText(text: string): Policy {
  return parseFiles({ "/p/main.policy": text });
}

export function compileText(text: string, opts: CompileOptions = {}): Instruction[] {
  return compilePolicy(parseText(text), opts);
}

export function nr(name: string): number {
  const n = X86_64_SYSCALLS[name];
  if (n === undefined) throw new Error(`test: unknown syscall ${name}`);
  return n;
}

/** The action name the program returns for syscall `name` with `args`. */
export function decide(
  program: Instruction[] | Uint8Array,
  name: string,
  args: (number | bigint)[] = [],
  arch?: number,
): string {
  return runFilter(program, { nr: nr(name), args, arch }).action;
}
