// Classic BPF as seccomp uses it: instruction encoding, opcodes and seccomp's data layout and return values.

// struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; } (include/uapi/linux/filter.h): 8 bytes, host order.
export const SOCK_FILTER_SIZE = 8;
// BPF_MAXINSNS (include/uapi/linux/bpf_common.h): the kernel refuses longer classic programs.
export const BPF_MAXINSNS = 4096;

// include/uapi/linux/bpf_common.h
export const BPF_LD = 0x00;
export const BPF_LDX = 0x01;
export const BPF_ST = 0x02;
export const BPF_STX = 0x03;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_MISC = 0x07;
export const BPF_W = 0x00;
export const BPF_IMM = 0x00;
export const BPF_ABS = 0x20;
export const BPF_MEM = 0x60;
export const BPF_LEN = 0x80;
export const BPF_ADD = 0x00;
export const BPF_SUB = 0x10;
export const BPF_MUL = 0x20;
export const BPF_DIV = 0x30;
export const BPF_OR = 0x40;
export const BPF_AND = 0x50;
export const BPF_LSH = 0x60;
export const BPF_RSH = 0x70;
export const BPF_NEG = 0x80;
export const BPF_MOD = 0x90;
export const BPF_XOR = 0xa0;
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;
export const BPF_K = 0x00;
export const BPF_X = 0x08;
export const BPF_A = 0x10;
// include/uapi/linux/filter.h
export const BPF_TAX = 0x00;
export const BPF_TXA = 0x80;
export const BPF_MEMWORDS = 16;

export const bpfClass = (code: number): number => code & 0x07;
export const bpfSize = (code: number): number => code & 0x18;
export const bpfMode = (code: number): number => code & 0xe0;
export const bpfOp = (code: number): number => code & 0xf0;
export const bpfSrc = (code: number): number => code & 0x08;
export const bpfRval = (code: number): number => code & 0x18;
export const bpfMiscOp = (code: number): number => code & 0xf8;

// struct seccomp_data (include/uapi/linux/seccomp.h): int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6].
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
export const SECCOMP_DATA_IP = 8;
export const SECCOMP_DATA_ARGS = 16;
export const SECCOMP_DATA_SIZE = 64;
/** Offset of the low (hi = false) or high 32-bit half of args[i]; x86-64 is little-endian. */
export const argOffset = (i: number, hi: boolean): number => SECCOMP_DATA_ARGS + 8 * i + (hi ? 4 : 0);

// include/uapi/linux/audit.h: AUDIT_ARCH_X86_64 = EM_X86_64 (62) | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE.
export const AUDIT_ARCH_X86_64 = 0xc000003e;
// arch/x86/include/uapi/asm/unistd.h: x32 syscalls are the x86-64 numbers with this bit set.
export const X32_SYSCALL_BIT = 0x40000000;

// include/uapi/linux/seccomp.h
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_TRACE = 0x7ff00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;
export const SECCOMP_SET_MODE_FILTER = 1;
export const SECCOMP_FILTER_FLAG_TSYNC = 1;

export interface Instruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

/** Encodes instructions as an array of struct sock_filter (little-endian, as on x86-64). */
export function encodeProgram(instructions: readonly Instruction[]): Uint8Array {
  const bytes = new Uint8Array(instructions.length * SOCK_FILTER_SIZE);
  const dv = new DataView(bytes.buffer);
  instructions.forEach((ins, i) => {
    const o = i * SOCK_FILTER_SIZE;
    dv.setUint16(o, ins.code, true);
    dv.setUint8(o + 2, ins.jt);
    dv.setUint8(o + 3, ins.jf);
    dv.setUint32(o + 4, ins.k >>> 0, true);
  });
  return bytes;
}

/** Decodes an array of struct sock_filter; refuses a length that is not a whole number of instructions. */
export function decodeProgram(bytes: Uint8Array): Instruction[] {
  if (bytes.length % SOCK_FILTER_SIZE !== 0) {
    throw new Error(`BPF program: ${bytes.length} bytes is not a multiple of ${SOCK_FILTER_SIZE}`);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Instruction[] = [];
  for (let o = 0; o < bytes.length; o += SOCK_FILTER_SIZE) {
    out.push({
      code: dv.getUint16(o, true),
      jt: dv.getUint8(o + 2),
      jf: dv.getUint8(o + 3),
      k: dv.getUint32(o + 4, true),
    });
  }
  return out;
}

/** A readable name for a seccomp return value, e.g. "ALLOW", "ERRNO(2)". */
export function describeReturn(k: number): string {
  const action = (k & SECCOMP_RET_ACTION_FULL) >>> 0;
  const data = k & SECCOMP_RET_DATA;
  switch (action) {
    case SECCOMP_RET_KILL_PROCESS:
      return "KILL_PROCESS";
    case SECCOMP_RET_KILL_THREAD:
      return "KILL_THREAD";
    case SECCOMP_RET_TRAP:
      return data ? `TRAP(${data})` : "TRAP";
    case SECCOMP_RET_ERRNO:
      return `ERRNO(${data})`;
    case SECCOMP_RET_USER_NOTIF:
      return "USER_NOTIF";
    case SECCOMP_RET_TRACE:
      return data ? `TRACE(${data})` : "TRACE";
    case SECCOMP_RET_LOG:
      return "LOG";
    case SECCOMP_RET_ALLOW:
      return "ALLOW";
    default:
      return `0x${(k >>> 0).toString(16)}`;
  }
}
