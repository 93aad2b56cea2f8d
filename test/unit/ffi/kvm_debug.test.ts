// ffi/kvm_debug.ts against <linux/kvm.h> (values printed by a C program: KVM_SET_GUEST_DEBUG 0x4048ae9b,
// KVM_TRANSLATE 0xc018ae85, sizeof(struct kvm_guest_debug) 72, sizeof(struct kvm_translation) 24,
// offsetof(struct kvm_run, debug.arch.pc) 40, offsetof(..., debug.arch.dr6) 48).
import { describe, expect, test } from "bun:test";
import {
  KVM_GUEST_DEBUG_SIZE,
  KVM_RUN_DEBUG,
  KVM_SET_GUEST_DEBUG,
  KVM_TRANSLATE,
  KVM_TRANSLATION_SIZE,
  decodeTranslation,
  encodeGuestDebug,
  encodeTranslation,
} from "../../../ffi/kvm_debug.ts";

describe("guest debug ioctls", () => {
  test("request numbers and struct sizes are the kernel's", () => {
    expect(KVM_SET_GUEST_DEBUG).toBe(0x4048ae9b);
    expect(KVM_TRANSLATE).toBe(0xc018ae85);
    expect(KVM_GUEST_DEBUG_SIZE).toBe(72);
    expect(KVM_TRANSLATION_SIZE).toBe(24);
  });

  test("kvm_debug_exit_arch sits at the start of kvm_run's exit union", () => {
    expect(KVM_RUN_DEBUG).toEqual({ exception: 32, pc: 40, dr6: 48, dr7: 56 });
  });

  test("kvm_guest_debug puts control first and debugreg[i] at 8 + 8i", () => {
    const b = encodeGuestDebug({ control: 0x20003, debugreg: [0x200026n, 0n, 0n, 0n, 0n, 0n, 0n, 0x402n] });
    const dv = new DataView(b.buffer);

    expect(dv.getUint32(0, true)).toBe(0x20003);
    expect(dv.getBigUint64(8, true)).toBe(0x200026n);
    expect(dv.getBigUint64(64, true)).toBe(0x402n);
  });

  test("kvm_translation carries the linear address in and the physical one and flags out", () => {
    const b = encodeTranslation(0xffff_ffff_8100_0000n);
    expect(new DataView(b.buffer).getBigUint64(0, true)).toBe(0xffff_ffff_8100_0000n);
    new DataView(b.buffer).setBigUint64(8, 0x100_0000n, true);
    b[16] = 1;

    expect(decodeTranslation(b)).toEqual({ physical: 0x100_0000n, valid: true, writeable: false });
  });
});
