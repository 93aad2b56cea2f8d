// The vCPU ioctls of guest debugging (ffi/kvm_debug.ts): arm breakpoints and single step, translate a guest
// virtual address through the vCPU's page tables. Called by the GDB stub on the main thread while the vCPU is
// parked outside KVM_RUN (a vCPU ioctl from another thread waits for the vCPU's mutex, which KVM_RUN holds).
import {
  KVM_SET_GUEST_DEBUG,
  KVM_TRANSLATE,
  decodeTranslation,
  encodeGuestDebug,
  encodeTranslation,
  type KvmGuestDebug,
  type KvmTranslation,
} from "../../ffi/kvm_debug.ts";
import { ioctl } from "../../ffi/libc.ts";
import type { Vcpu } from "./vcpu.ts";

export function setGuestDebug(vcpu: Vcpu, debug: KvmGuestDebug): void {
  ioctl(vcpu.fd, KVM_SET_GUEST_DEBUG, encodeGuestDebug(debug), "KVM_SET_GUEST_DEBUG", `vCPU ${vcpu.id}`);
}

/** KVM_TRANSLATE: the guest physical address of `linear` as the vCPU's current paging mode maps it. */
export function translate(vcpu: Vcpu, linear: bigint): KvmTranslation {
  const buf = encodeTranslation(linear);
  ioctl(vcpu.fd, KVM_TRANSLATE, buf, "KVM_TRANSLATE", `vCPU ${vcpu.id}`);
  return decodeTranslation(buf);
}
