// Compiles a parsed policy into a classic BPF seccomp program (an array of struct sock_filter).
//
// Layout:
//   ld [arch]; jeq #AUDIT_ARCH_X86_64 else KILL_PROCESS      another ABI's numbers mean other syscalls
//   ld [nr];   jset #__X32_SYSCALL_BIT -> KILL_PROCESS        x32 calls reuse x86-64 numbers with bit 30 set
//   a balanced binary search over the listed syscall numbers (jge splits, jeq leaves), with A = nr throughout;
//   each match jumps to ALLOW, to an unconditional action, or to its argument filter;
//   argument filters: one block per syscall, 64-bit comparisons split into 32-bit halves, high half first
//   (as minijail's bpf.c does); the returns, one per distinct value, at the end.
//
// The program is emitted backwards (as minijail's python compiler flattens its DAG), so every jump target already
// has its final position when the jump is written: a distance over 255 becomes a conditional jump to a `ja`, whose
// 32-bit offset reaches anywhere.
import {
  AUDIT_ARCH_X86_64,
  argOffset,
  BPF_ABS,
  BPF_JA,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JMP,
  BPF_JSET,
  BPF_K,
  BPF_LD,
  BPF_MAXINSNS,
  BPF_RET,
  BPF_W,
  encodeProgram,
  type Instruction,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_NR,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD,
  SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE,
  SECCOMP_RET_TRAP,
  SECCOMP_RET_USER_NOTIF,
  X32_SYSCALL_BIT,
} from "./bpf.ts";
import {
  type Action,
  type Atom,
  type ParseOptions,
  parsePolicyFile,
  type Policy,
  type SyscallRule,
} from "./parser.ts";

export interface CompileOptions {
  /** crosvm's --seccomp-log-failures: SECCOMP_RET_LOG instead of killing for unlisted syscalls and failed filters. */
  readonly logFailures?: boolean;
}

/** A policy that parses but cannot become a loadable program (e.g. too long). */
export class SeccompCompileError extends Error {
  override name = "SeccompCompileError";
}

/** Syscalls per linear leaf of the search tree: below this a chain of jeq is as short as more splits. */
const LEAF_SIZE = 4;
const U32_MASK = 0xffffffffn;

/** The seccomp return value for an action. */
export function actionReturn(action: Action): number {
  switch (action.kind) {
    case "allow":
      return SECCOMP_RET_ALLOW;
    case "kill-process":
      return SECCOMP_RET_KILL_PROCESS;
    case "kill-thread":
      return SECCOMP_RET_KILL_THREAD;
    case "trap":
      return SECCOMP_RET_TRAP;
    case "trace":
      return SECCOMP_RET_TRACE;
    case "log":
      return SECCOMP_RET_LOG;
    case "user-notify":
      return SECCOMP_RET_USER_NOTIF;
    case "errno":
      return (SECCOMP_RET_ERRNO | action.errno) >>> 0;
  }
}

/** Parses and compiles a policy file into struct sock_filter bytes. */
export function compilePolicyFile(path: string, options: CompileOptions & ParseOptions = {}): Uint8Array {
  return encodeProgram(compilePolicy(parsePolicyFile(path, options), options));
}

/** Compiles a parsed policy into instructions; throws SeccompCompileError past BPF_MAXINSNS. */
export function compilePolicy(policy: Policy, options: CompileOptions = {}): Instruction[] {
  const defaultReturn = options.logFailures
    ? SECCOMP_RET_LOG
    : actionReturn(policy.defaultAction ?? { kind: "kill-process" });
  const e = new BackwardEmitter();
  const kill = e.ret(SECCOMP_RET_KILL_PROCESS);
  const allow = e.ret(SECCOMP_RET_ALLOW);
  const fallback = e.ret(defaultReturn);

  const rules = [...policy.rules].sort((a, b) => a.nr - b.nr);
  // Argument filters, emitted last-first so that they read in syscall order.
  const targets = new Map<number, Label>();
  for (const rule of [...rules].reverse()) targets.set(rule.nr, emitRule(e, rule, allow, fallback));
  const entries = rules.map((r) => ({ nr: r.nr, target: targets.get(r.nr)! }));
  const dispatch = entries.length ? emitSearch(e, entries, fallback) : fallback;

  const x32 = e.jump(BPF_JSET, X32_SYSCALL_BIT, kill, dispatch);
  const loadNr = e.load(SECCOMP_DATA_NR, x32);
  e.load(SECCOMP_DATA_ARCH, e.jump(BPF_JEQ, AUDIT_ARCH_X86_64, loadNr, kill));

  const program = e.program();
  if (program.length > BPF_MAXINSNS) {
    const file = policy.files[0] ?? "policy";
    throw new SeccompCompileError(
      `${file}: the compiled filter has ${program.length} instructions, more than BPF_MAXINSNS (${BPF_MAXINSNS})`,
    );
  }
  return program;
}

/** Where an instruction sits, counted from the end of the program (the last instruction is 1). */
type Label = number;

/** Builds a program from its end towards its start, so that forward jump distances are known when written. */
class BackwardEmitter {
  private readonly reversed: Instruction[] = [];
  private readonly returns = new Map<number, Label>();

  program(): Instruction[] {
    return [...this.reversed].reverse();
  }

  private emit(ins: Instruction): Label {
    this.reversed.push(ins);
    return this.reversed.length;
  }

  /** Distance from an instruction emitted now to `target`. */
  private distance(target: Label): number {
    return this.reversed.length - target;
  }

  ret(k: number): Label {
    const existing = this.returns.get(k);
    if (existing !== undefined) return existing;
    const label = this.emit({ code: BPF_RET | BPF_K, jt: 0, jf: 0, k });
    this.returns.set(k, label);
    return label;
  }

  /** `A = seccomp_data[offset]`, then continue at `next` (a `ja` is added when `next` is not what follows). */
  load(offset: number, next: Label): Label {
    if (this.reversed.length !== next) this.ja(next);
    return this.emit({ code: BPF_LD | BPF_W | BPF_ABS, jt: 0, jf: 0, k: offset });
  }

  ja(target: Label): Label {
    return this.emit({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k: this.distance(target) });
  }

  /** `if (A op k) goto t else goto f`, with `ja` trampolines for distances over 255. */
  jump(op: number, k: number, t: Label, f: Label): Label {
    if (t === f) return t;
    const code = BPF_JMP | op | BPF_K;
    const jt = this.distance(t);
    const jf = this.distance(f);
    if (jt <= 255 && jf <= 255) return this.emit({ code, jt, jf, k: k >>> 0 });
    if (jt + 1 <= 255) {
      this.ja(f);
      return this.emit({ code, jt: this.distance(t), jf: 0, k: k >>> 0 });
    }
    if (jf + 1 <= 255) {
      this.ja(t);
      return this.emit({ code, jt: 0, jf: this.distance(f), k: k >>> 0 });
    }
    this.ja(f);
    this.ja(t);
    return this.emit({ code, jt: 0, jf: 1, k: k >>> 0 });
  }
}

function emitRule(e: BackwardEmitter, rule: SyscallRule, allow: Label, fallback: Label): Label {
  if (!rule.clauses) return e.ret(actionReturn(rule.action ?? { kind: "allow" }));
  let otherwise = rule.action ? e.ret(actionReturn(rule.action)) : fallback;
  // Any clause holding allows; clauses are tried in source order, atoms within a clause likewise.
  for (const clause of [...rule.clauses].reverse()) {
    let ifTrue = allow;
    for (const atom of [...clause].reverse()) ifTrue = emitAtom(e, atom, ifTrue, otherwise);
    otherwise = ifTrue;
  }
  return otherwise;
}

/** One 64-bit comparison as 32-bit ones on the high half, then the low half. */
function emitAtom(e: BackwardEmitter, atom: Atom, t: Label, f: Label): Label {
  // Both outcomes lead to the same place: nothing to test (and a lone load must not fall through elsewhere).
  if (t === f) return t;
  let op: number;
  let value = atom.value;
  switch (atom.op) {
    case "==":
      op = BPF_JEQ;
      break;
    case "!=":
      op = BPF_JEQ;
      [t, f] = [f, t];
      break;
    case ">":
      op = BPF_JGT;
      break;
    case "<=":
      op = BPF_JGT;
      [t, f] = [f, t];
      break;
    case ">=":
      op = BPF_JGE;
      break;
    case "<":
      op = BPF_JGE;
      [t, f] = [f, t];
      break;
    case "&":
      op = BPF_JSET;
      break;
    case "in":
      // No bit outside the mask may be set: test the complement and swap the outcomes.
      op = BPF_JSET;
      value = ~value & ((1n << 64n) - 1n);
      [t, f] = [f, t];
      break;
  }
  const lo = Number(value & U32_MASK);
  const hi = Number((value >> 32n) & U32_MASK);
  const loOffset = argOffset(atom.arg, false);
  const hiOffset = argOffset(atom.arg, true);

  if (op === BPF_JSET) {
    // Some bit of value set in the argument: in the high half, or else in the low half.
    const loCheck = lo === 0 ? f : e.load(loOffset, e.jump(BPF_JSET, lo, t, f));
    return hi === 0 ? loCheck : e.load(hiOffset, e.jump(BPF_JSET, hi, t, loCheck));
  }
  const loCheck = e.load(loOffset, e.jump(op, lo, t, f));
  if (op === BPF_JEQ) return e.load(hiOffset, e.jump(BPF_JEQ, hi, loCheck, f));
  // a > b (or >=) on 64 bits: hi(a) > hi(b), or hi(a) == hi(b) and lo(a) > lo(b) (or >=).
  if (hi === 0) return e.load(hiOffset, e.jump(BPF_JGT, 0, t, loCheck));
  const hiEqual = e.jump(BPF_JEQ, hi, loCheck, f);
  return e.load(hiOffset, e.jump(BPF_JGT, hi, t, hiEqual));
}

/** Binary search over sorted syscall numbers; A holds nr. */
function emitSearch(e: BackwardEmitter, entries: { nr: number; target: Label }[], miss: Label): Label {
  if (entries.length <= LEAF_SIZE) {
    let next = miss;
    for (const { nr, target } of [...entries].reverse()) next = e.jump(BPF_JEQ, nr, target, next);
    return next;
  }
  const mid = entries.length >> 1;
  const upper = emitSearch(e, entries.slice(mid), miss);
  const lower = emitSearch(e, entries.slice(0, mid), miss);
  return e.jump(BPF_JGE, entries[mid]!.nr, upper, lower);
}
