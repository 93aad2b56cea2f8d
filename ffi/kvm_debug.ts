// Guest debugging through KVM (the GDB stub, src/vmm/gdb/): KVM_SET_GUEST_DEBUG and KVM_TRANSLATE with their
// structs, and the KVM_EXIT_DEBUG part of kvm_run. Sources: include/uapi/linux/kvm.h (KVM_SET_GUEST_DEBUG
// _IOW(KVMIO, 0x9b, struct kvm_guest_debug), KVM_TRANSLATE _IOWR(KVMIO, 0x85, struct kvm_translation),
// KVM_GUESTDBG_ENABLE/SINGLESTEP, struct kvm_translation) and arch/x86/include/uapi/asm/kvm.h (struct
// kvm_guest_debug_arch { __u64 debugreg[8]; }, struct kvm_debug_exit_arch { __u32 exception; __u32 pad; __u64 pc;
// __u64 dr6; __u64 dr7; }, KVM_GUESTDBG_USE_SW_BP 0x10000, USE_HW_BP 0x20000, INJECT_DB 0x40000, INJECT_BP
// 0x80000). test/unit/ffi/kvm_debug.test.ts pins them against the installed headers' values.

const KVMIO = 0xae;
const IOC_WRITE = 1;
const IOC_READ = 2;
const LE = true;

function ioc(dir: number, nr: number, size: number): number {
  return ((dir << 30) >>> 0) + ((size << 16) | (KVMIO << 8) | nr);
}

/** sizeof(struct kvm_guest_debug): control, pad, then debugreg[8]. */
export const KVM_GUEST_DEBUG_SIZE = 72;
/** sizeof(struct kvm_translation): linear_address, physical_address, valid, writeable, usermode, pad[5]. */
export const KVM_TRANSLATION_SIZE = 24;

export const KVM_SET_GUEST_DEBUG = ioc(IOC_WRITE, 0x9b, KVM_GUEST_DEBUG_SIZE);
export const KVM_TRANSLATE = ioc(IOC_READ | IOC_WRITE, 0x85, KVM_TRANSLATION_SIZE);

export const KVM_GUESTDBG_ENABLE = 0x1;
export const KVM_GUESTDBG_SINGLESTEP = 0x2;
export const KVM_GUESTDBG_USE_SW_BP = 0x10000;
export const KVM_GUESTDBG_USE_HW_BP = 0x20000;
export const KVM_GUESTDBG_INJECT_DB = 0x40000;
export const KVM_GUESTDBG_INJECT_BP = 0x80000;

/** x86 exception vectors a debug exit reports (Intel SDM vol. 3, table 6-1). */
export const DB_VECTOR = 1;
export const BP_VECTOR = 3;

/** Offsets of struct kvm_debug_exit_arch inside kvm_run's exit union (which starts at 32). */
export const KVM_RUN_DEBUG = { exception: 32, pc: 40, dr6: 48, dr7: 56 } as const;

export interface KvmGuestDebug {
  control: number;
  /** DR0..DR7; DR4 and DR5 are unused. */
  debugreg: readonly bigint[];
}

export function encodeGuestDebug(d: KvmGuestDebug): Uint8Array {
  const out = new Uint8Array(KVM_GUEST_DEBUG_SIZE);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, d.control >>> 0, LE);
  for (let i = 0; i < 8; i++) dv.setBigUint64(8 + i * 8, BigInt.asUintN(64, d.debugreg[i] ?? 0n), LE);
  return out;
}

export function encodeTranslation(linear: bigint): Uint8Array {
  const out = new Uint8Array(KVM_TRANSLATION_SIZE);
  new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, linear), LE);
  return out;
}

export interface KvmTranslation {
  physical: bigint;
  valid: boolean;
  writeable: boolean;
}

export function decodeTranslation(buf: Uint8Array): KvmTranslation {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return { physical: dv.getBigUint64(8, LE), valid: buf[16] !== 0, writeable: buf[17] !== 0 };
}

/** What a KVM_EXIT_DEBUG reports (struct kvm_debug_exit_arch). */
export interface DebugExit {
  readonly exception: number;
  readonly pc: bigint;
  readonly dr6: bigint;
}
