// The ioctl request numbers, as the _IO/_IOR/_IOW/_IOWR macros of include/uapi/asm-generic/ioctl.h expand them for
// the definitions in include/uapi/linux/kvm.h (values as printed by a C program including <linux/kvm.h>).
import { expect, test } from "bun:test";
import * as K from "../../../ffi/kvm.ts";

test.each([
  ["KVM_GET_API_VERSION", K.KVM_GET_API_VERSION, 0xae00],
  ["KVM_CREATE_VM", K.KVM_CREATE_VM, 0xae01],
  ["KVM_CHECK_EXTENSION", K.KVM_CHECK_EXTENSION, 0xae03],
  ["KVM_GET_VCPU_MMAP_SIZE", K.KVM_GET_VCPU_MMAP_SIZE, 0xae04],
  ["KVM_GET_SUPPORTED_CPUID", K.KVM_GET_SUPPORTED_CPUID, 0xc008ae05],
  ["KVM_GET_MSR_INDEX_LIST", K.KVM_GET_MSR_INDEX_LIST, 0xc004ae02],
  ["KVM_CREATE_VCPU", K.KVM_CREATE_VCPU, 0xae41],
  ["KVM_SET_USER_MEMORY_REGION", K.KVM_SET_USER_MEMORY_REGION, 0x4020ae46],
  ["KVM_SET_TSS_ADDR", K.KVM_SET_TSS_ADDR, 0xae47],
  ["KVM_SET_IDENTITY_MAP_ADDR", K.KVM_SET_IDENTITY_MAP_ADDR, 0x4008ae48],
  ["KVM_CREATE_IRQCHIP", K.KVM_CREATE_IRQCHIP, 0xae60],
  ["KVM_IRQ_LINE", K.KVM_IRQ_LINE, 0x4008ae61],
  ["KVM_SET_GSI_ROUTING", K.KVM_SET_GSI_ROUTING, 0x4008ae6a],
  ["KVM_IRQFD", K.KVM_IRQFD, 0x4020ae76],
  ["KVM_CREATE_PIT2", K.KVM_CREATE_PIT2, 0x4040ae77],
  ["KVM_IOEVENTFD", K.KVM_IOEVENTFD, 0x4040ae79],
  ["KVM_ENABLE_CAP", K.KVM_ENABLE_CAP, 0x4068aea3],
  ["KVM_SIGNAL_MSI", K.KVM_SIGNAL_MSI, 0x4020aea5],
  ["KVM_RUN", K.KVM_RUN, 0xae80],
  ["KVM_GET_REGS", K.KVM_GET_REGS, 0x8090ae81],
  ["KVM_SET_REGS", K.KVM_SET_REGS, 0x4090ae82],
  ["KVM_GET_SREGS", K.KVM_GET_SREGS, 0x8138ae83],
  ["KVM_SET_SREGS", K.KVM_SET_SREGS, 0x4138ae84],
  ["KVM_GET_MSRS", K.KVM_GET_MSRS, 0xc008ae88],
  ["KVM_SET_MSRS", K.KVM_SET_MSRS, 0x4008ae89],
  ["KVM_SET_SIGNAL_MASK", K.KVM_SET_SIGNAL_MASK, 0x4004ae8b],
  ["KVM_GET_FPU", K.KVM_GET_FPU, 0x81a0ae8c],
  ["KVM_SET_FPU", K.KVM_SET_FPU, 0x41a0ae8d],
  ["KVM_GET_LAPIC", K.KVM_GET_LAPIC, 0x8400ae8e],
  ["KVM_SET_LAPIC", K.KVM_SET_LAPIC, 0x4400ae8f],
  ["KVM_SET_CPUID2", K.KVM_SET_CPUID2, 0x4008ae90],
  ["KVM_GET_MP_STATE", K.KVM_GET_MP_STATE, 0x8004ae98],
  ["KVM_SET_MP_STATE", K.KVM_SET_MP_STATE, 0x4004ae99],
])("%s has the value <linux/kvm.h> gives it", (_name, actual, expected) => {
  expect(actual).toBe(expected);
});

test("exit reasons match linux/kvm.h", () => {
  expect([
    K.KVM_EXIT_IO,
    K.KVM_EXIT_HLT,
    K.KVM_EXIT_MMIO,
    K.KVM_EXIT_SHUTDOWN,
    K.KVM_EXIT_FAIL_ENTRY,
  ]).toEqual([2, 5, 6, 8, 9]);
  expect([K.KVM_EXIT_INTERNAL_ERROR, K.KVM_EXIT_SYSTEM_EVENT]).toEqual([17, 24]);
});

test("capability numbers match linux/kvm.h", () => {
  expect([
    K.KVM_CAP_IRQCHIP,
    K.KVM_CAP_USER_MEMORY,
    K.KVM_CAP_IRQFD,
    K.KVM_CAP_PIT2,
    K.KVM_CAP_IOEVENTFD,
  ]).toEqual([0, 3, 32, 33, 36]);
  expect([K.KVM_CAP_MAX_VCPUS, K.KVM_CAP_SIGNAL_MSI, K.KVM_CAP_IMMEDIATE_EXIT]).toEqual([66, 77, 136]);
});
