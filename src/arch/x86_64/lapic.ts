// Local APIC LINT0/LINT1 setup that a PC BIOS would do: LINT0 delivers the 8259 PIC's ExtINT, LINT1 delivers NMI
// (crosvm x86_64/src/interrupts.rs set_lint; register offsets from Linux arch/x86/include/asm/apicdef.h; delivery
// modes from Intel SDM Vol. 3A §11.5.1). Operates on the 1024-byte struct kvm_lapic_state (KVM_GET_LAPIC), whose
// bytes are the APIC register page.

export const KVM_LAPIC_STATE_SIZE = 1024;
export const APIC_LVT0 = 0x350;
export const APIC_LVT1 = 0x360;
export const APIC_MODE_NMI = 0x4;
export const APIC_MODE_EXTINT = 0x7;
/** LVT delivery mode occupies bits 10:8. */
const DELIVERY_MODE_MASK = 0x700;

function setDeliveryMode(reg: number, mode: number): number {
  return ((reg & ~DELIVERY_MODE_MASK) | (mode << 8)) >>> 0;
}

/** Returns a copy of `lapicState` with LVT0 = ExtINT and LVT1 = NMI; pass the result to KVM_SET_LAPIC. */
export function withLintConfigured(lapicState: Uint8Array): Uint8Array {
  if (lapicState.length !== KVM_LAPIC_STATE_SIZE) {
    throw new RangeError(`kvm_lapic_state must be ${KVM_LAPIC_STATE_SIZE} bytes, got ${lapicState.length}`);
  }
  const out = lapicState.slice();
  const view = new DataView(out.buffer);
  view.setUint32(APIC_LVT0, setDeliveryMode(view.getUint32(APIC_LVT0, true), APIC_MODE_EXTINT), true);
  view.setUint32(APIC_LVT1, setDeliveryMode(view.getUint32(APIC_LVT1, true), APIC_MODE_NMI), true);
  return out;
}
