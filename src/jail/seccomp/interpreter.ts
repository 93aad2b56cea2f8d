// A classic BPF interpreter over struct seccomp_data, for tests and for checking a program before installing it.
// It accepts what the kernel's seccomp_check_filter() accepts (loads of seccomp_data words, scratch memory, ALU,
// jumps, returns) and treats anything the kernel would refuse as an error: a load outside seccomp_data or not
// 4-byte aligned, a jump past the end, falling off the end, an unknown opcode, division by zero.
import {
  AUDIT_ARCH_X86_64,
  BPF_A,
  BPF_ABS,
  BPF_ADD,
  BPF_ALU,
  BPF_AND,
  BPF_DIV,
  BPF_IMM,
  BPF_JA,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JMP,
  BPF_JSET,
  BPF_K,
  BPF_LD,
  BPF_LDX,
  BPF_LEN,
  BPF_LSH,
  BPF_MEM,
  BPF_MEMWORDS,
  BPF_MISC,
  BPF_MOD,
  BPF_MUL,
  BPF_NEG,
  BPF_OR,
  BPF_RET,
  BPF_RSH,
  BPF_ST,
  BPF_STX,
  BPF_SUB,
  BPF_TAX,
  BPF_TXA,
  BPF_W,
  BPF_X,
  BPF_XOR,
  bpfClass,
  bpfMiscOp,
  bpfMode,
  bpfOp,
  bpfRval,
  bpfSize,
  bpfSrc,
  decodeProgram,
  describeReturn,
  type Instruction,
  SECCOMP_DATA_SIZE,
} from "./bpf.ts";

/** The syscall a filter decides on (struct seccomp_data). */
export interface SeccompData {
  readonly nr: number;
  /** Defaults to AUDIT_ARCH_X86_64. */
  readonly arch?: number;
  readonly instructionPointer?: bigint;
  /** Up to six 64-bit arguments; missing ones are 0. */
  readonly args?: readonly (bigint | number)[];
}

export interface FilterResult {
  /** The 32-bit value the program returned. */
  readonly value: number;
  /** Its readable name, e.g. "ALLOW", "KILL_PROCESS", "ERRNO(2)". */
  readonly action: string;
  /** Instructions executed. */
  readonly steps: number;
}

export class BpfError extends Error {
  override name = "BpfError";
}

/** Lays out struct seccomp_data (include/uapi/linux/seccomp.h) in little-endian bytes. */
export function encodeSeccompData(data: SeccompData): DataView {
  const dv = new DataView(new ArrayBuffer(SECCOMP_DATA_SIZE));
  dv.setUint32(0, data.nr >>> 0, true);
  dv.setUint32(4, (data.arch ?? AUDIT_ARCH_X86_64) >>> 0, true);
  dv.setBigUint64(8, BigInt.asUintN(64, data.instructionPointer ?? 0n), true);
  const args = data.args ?? [];
  if (args.length > 6) throw new BpfError(`seccomp_data has 6 arguments, got ${args.length}`);
  args.forEach((a, i) => dv.setBigUint64(16 + 8 * i, BigInt.asUintN(64, BigInt(a)), true));
  return dv;
}

/** Runs a program (instructions or struct sock_filter bytes) on one syscall. */
export function runFilter(program: readonly Instruction[] | Uint8Array, data: SeccompData): FilterResult {
  const insns = program instanceof Uint8Array ? decodeProgram(program) : program;
  const mem = encodeSeccompData(data);
  const scratch = new Uint32Array(BPF_MEMWORDS);
  let a = 0;
  let x = 0;
  let pc = 0;
  let steps = 0;
  const bad = (what: string): never => {
    throw new BpfError(`instruction ${pc}: ${what}`);
  };
  while (true) {
    if (pc >= insns.length) bad(`past the end of a ${insns.length}-instruction program`);
    const ins = insns[pc]!;
    steps++;
    const { code, k } = ins;
    const u = (v: number) => v >>> 0;
    switch (bpfClass(code)) {
      case BPF_LD:
      case BPF_LDX: {
        if (bpfSize(code) !== BPF_W)
          bad(`load size 0x${bpfSize(code).toString(16)} (seccomp allows words only)`);
        let v: number;
        switch (bpfMode(code)) {
          case BPF_ABS:
            if (bpfClass(code) !== BPF_LD) bad("ldx abs is not a seccomp instruction");
            if (k % 4 !== 0 || k + 4 > SECCOMP_DATA_SIZE)
              bad(`load of seccomp_data offset ${k} out of range`);
            v = mem.getUint32(k, true);
            break;
          case BPF_IMM:
            v = k;
            break;
          case BPF_MEM:
            if (k >= BPF_MEMWORDS) bad(`scratch memory M[${k}] out of range`);
            v = scratch[k]!;
            break;
          case BPF_LEN:
            v = SECCOMP_DATA_SIZE;
            break;
          default:
            bad(`load mode 0x${bpfMode(code).toString(16)}`);
        }
        if (bpfClass(code) === BPF_LD) a = u(v!);
        else x = u(v!);
        pc++;
        break;
      }
      case BPF_ST:
      case BPF_STX:
        if (k >= BPF_MEMWORDS) bad(`scratch memory M[${k}] out of range`);
        scratch[k] = bpfClass(code) === BPF_ST ? a : x;
        pc++;
        break;
      case BPF_ALU: {
        const operand = bpfSrc(code) === BPF_X ? x : u(k);
        switch (bpfOp(code)) {
          case BPF_ADD:
            a = u(a + operand);
            break;
          case BPF_SUB:
            a = u(a - operand);
            break;
          case BPF_MUL:
            a = u(Math.imul(a, operand));
            break;
          case BPF_DIV:
            if (operand === 0) bad("division by zero");
            a = u(Math.floor(a / operand));
            break;
          case BPF_MOD:
            if (operand === 0) bad("modulo by zero");
            a = u(a % operand);
            break;
          case BPF_OR:
            a = u(a | operand);
            break;
          case BPF_AND:
            a = u(a & operand);
            break;
          case BPF_XOR:
            a = u(a ^ operand);
            break;
          case BPF_LSH:
            a = operand >= 32 ? 0 : u(a << operand);
            break;
          case BPF_RSH:
            a = operand >= 32 ? 0 : a >>> operand;
            break;
          case BPF_NEG:
            a = u(-a);
            break;
          default:
            bad(`ALU op 0x${bpfOp(code).toString(16)}`);
        }
        pc++;
        break;
      }
      case BPF_JMP: {
        let offset: number;
        if (bpfOp(code) === BPF_JA) {
          offset = u(k);
        } else {
          const operand = bpfSrc(code) === BPF_X ? x : u(k);
          let taken: boolean;
          switch (bpfOp(code)) {
            case BPF_JEQ:
              taken = a === operand;
              break;
            case BPF_JGT:
              taken = a > operand;
              break;
            case BPF_JGE:
              taken = a >= operand;
              break;
            case BPF_JSET:
              taken = (a & operand) !== 0;
              break;
            default:
              bad(`jump op 0x${bpfOp(code).toString(16)}`);
          }
          offset = taken! ? ins.jt : ins.jf;
        }
        const target = pc + 1 + offset;
        if (target >= insns.length)
          bad(`jump to ${target}, past the end of a ${insns.length}-instruction program`);
        pc = target;
        break;
      }
      case BPF_RET: {
        const rval = bpfRval(code);
        if (rval !== BPF_K && rval !== BPF_A) bad(`return source 0x${rval.toString(16)}`);
        const value = rval === BPF_A ? a : u(k);
        return { value, action: describeReturn(value), steps };
      }
      case BPF_MISC:
        if (bpfMiscOp(code) === BPF_TAX) x = a;
        else if (bpfMiscOp(code) === BPF_TXA) a = x;
        else bad(`misc op 0x${bpfMiscOp(code).toString(16)}`);
        pc++;
        break;
      default:
        bad(`opcode 0x${code.toString(16)}`);
    }
  }
}
