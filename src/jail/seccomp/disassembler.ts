// A readable listing of a classic BPF seccomp program, for debugging policies:
//   0000: ld [4]                 ; arch
//   0001: jeq #0xc000003e, 0002, 0003
//   0005: jeq #0x3b, 0006, 0007  ; execve
// Jump targets are absolute instruction numbers; loads of seccomp_data name their field, comparisons of the syscall
// number name the syscall, returns name their action.
import {
  BPF_A,
  BPF_ABS,
  BPF_ALU,
  BPF_IMM,
  BPF_JA,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_JMP,
  BPF_JSET,
  BPF_LD,
  BPF_LDX,
  BPF_LEN,
  BPF_MEM,
  BPF_MISC,
  BPF_RET,
  BPF_ST,
  BPF_STX,
  BPF_TAX,
  BPF_X,
  bpfClass,
  bpfMiscOp,
  bpfMode,
  bpfOp,
  bpfRval,
  bpfSrc,
  decodeProgram,
  describeReturn,
  type Instruction,
  SECCOMP_DATA_ARCH,
  SECCOMP_DATA_IP,
  SECCOMP_DATA_NR,
} from "./bpf.ts";
import { X86_64_SYSCALLS } from "./syscall_table.ts";

const SYSCALL_NAMES = new Map(Object.entries(X86_64_SYSCALLS).map(([name, nr]) => [nr, name]));
const ALU_NAMES: Record<number, string> = {
  0x00: "add",
  0x10: "sub",
  0x20: "mul",
  0x30: "div",
  0x40: "or",
  0x50: "and",
  0x60: "lsh",
  0x70: "rsh",
  0x80: "neg",
  0x90: "mod",
  0xa0: "xor",
};
const JUMP_NAMES: Record<number, string> = {
  [BPF_JEQ]: "jeq",
  [BPF_JGT]: "jgt",
  [BPF_JGE]: "jge",
  [BPF_JSET]: "jset",
};

function fieldName(offset: number): string {
  if (offset === SECCOMP_DATA_NR) return "nr";
  if (offset === SECCOMP_DATA_ARCH) return "arch";
  if (offset === SECCOMP_DATA_IP || offset === SECCOMP_DATA_IP + 4)
    return `instruction_pointer ${offset === 8 ? "lo" : "hi"}`;
  const arg = Math.floor((offset - 16) / 8);
  return `args[${arg}] ${offset % 8 === 0 ? "lo" : "hi"}`;
}

const hex = (k: number) => `#0x${(k >>> 0).toString(16)}`;
const at = (n: number) => n.toString().padStart(4, "0");

/** One line per instruction. */
export function disassemble(program: readonly Instruction[] | Uint8Array): string {
  const insns = program instanceof Uint8Array ? decodeProgram(program) : program;
  let aHoldsNr = false;
  const lines = insns.map((ins, pc) => {
    const { code, k } = ins;
    let text: string;
    let note = "";
    switch (bpfClass(code)) {
      case BPF_LD:
      case BPF_LDX: {
        const op = bpfClass(code) === BPF_LD ? "ld" : "ldx";
        const mode = bpfMode(code);
        if (mode === BPF_ABS) {
          text = `${op} [${k}]`;
          note = fieldName(k);
        } else if (mode === BPF_IMM) text = `${op} ${hex(k)}`;
        else if (mode === BPF_MEM) text = `${op} M[${k}]`;
        else if (mode === BPF_LEN) text = `${op} #len`;
        else text = `${op} ??? (code 0x${code.toString(16)})`;
        if (op === "ld") aHoldsNr = mode === BPF_ABS && k === SECCOMP_DATA_NR;
        break;
      }
      case BPF_ST:
      case BPF_STX:
        text = `${bpfClass(code) === BPF_ST ? "st" : "stx"} M[${k}]`;
        break;
      case BPF_ALU:
        text = `${ALU_NAMES[bpfOp(code)] ?? "alu?"} ${bpfSrc(code) === BPF_X ? "x" : hex(k)}`;
        aHoldsNr = false;
        break;
      case BPF_JMP: {
        if (bpfOp(code) === BPF_JA) {
          text = `ja ${at(pc + 1 + (k >>> 0))}`;
          break;
        }
        const name = JUMP_NAMES[bpfOp(code)] ?? "j?";
        const operand = bpfSrc(code) === BPF_X ? "x" : hex(k);
        text = `${name} ${operand}, ${at(pc + 1 + ins.jt)}, ${at(pc + 1 + ins.jf)}`;
        if (aHoldsNr && bpfOp(code) === BPF_JEQ) note = SYSCALL_NAMES.get(k) ?? "";
        break;
      }
      case BPF_RET:
        if (bpfRval(code) === BPF_A) text = "ret a";
        else {
          text = `ret ${hex(k)}`;
          note = describeReturn(k);
        }
        break;
      case BPF_MISC:
        text = bpfMiscOp(code) === BPF_TAX ? "tax" : "txa";
        if (text === "txa") aHoldsNr = false;
        break;
      default:
        text = `??? code 0x${code.toString(16)}`;
    }
    const line = `${at(pc)}: ${text}`;
    return note ? `${line.padEnd(40)} ; ${note}` : line;
  });
  return lines.join("\n");
}
