import { describe, expect, test } from "bun:test";
import type { KvmCpuidEntry } from "../../../ffi/kvm_types.ts";
import { physAddrBits, vcpuCpuid } from "../../../src/arch/x86_64/cpuid.ts";

const entry = (fn: number, index = 0, r: Partial<KvmCpuidEntry> = {}): KvmCpuidEntry => ({
  function: fn,
  index,
  flags: 0,
  eax: 0,
  ebx: 0,
  ecx: 0,
  edx: 0,
  ...r,
});
const KVM_SIG = [0x4b4d564b, 0x564b4d56, 0x4d];

/** A KVM_GET_SUPPORTED_CPUID-like list. */
function supported(): KvmCpuidEntry[] {
  return [
    entry(0, 0, { eax: 0x1f }),
    entry(1, 0, { eax: 0x806f8, ebx: 0x0001_0800 | 0xff, ecx: (1 << 5) | (1 << 21) | 1, edx: 0x178bfbff }),
    entry(4, 0, { eax: 0xfc00_4121 }),
    entry(0xb, 0, { eax: 9, ebx: 9, ecx: 9, edx: 9 }),
    entry(0xb, 1, { eax: 9, ebx: 9, ecx: 9, edx: 9 }),
    entry(0xb, 2, { eax: 9, ebx: 9, ecx: 9, edx: 9 }),
    entry(0x4000_0000, 0, { eax: 0x4000_0001, ebx: KVM_SIG[0], ecx: KVM_SIG[1], edx: KVM_SIG[2] }),
    entry(0x8000_0001, 0, { ecx: (1 << 2) | 1 }),
    entry(0x8000_0008, 0, { eax: 0x3030 }),
  ];
}
const leaf = (es: KvmCpuidEntry[], fn: number, index = 0) =>
  es.find((e) => e.function === fn && e.index === index)!;

describe("vcpuCpuid", () => {
  test("sets the hypervisor bit", () => {
    expect(leaf(vcpuCpuid(supported(), { vcpuId: 0, vcpuCount: 1 }), 1).ecx >>> 31).toBe(1);
  });

  test("puts each vCPU's APIC ID in leaf 1 EBX[31:24]", () => {
    for (const id of [0, 1, 3]) {
      expect(leaf(vcpuCpuid(supported(), { vcpuId: id, vcpuCount: 4 }), 1).ebx >>> 24).toBe(id);
    }
  });

  test("reports the logical processor count with HTT for several vCPUs", () => {
    const l1 = leaf(vcpuCpuid(supported(), { vcpuId: 1, vcpuCount: 4 }), 1);
    expect((l1.ebx >> 16) & 0xff).toBe(4);
    expect((l1.edx >>> 28) & 1).toBe(1);
    expect((l1.ebx >> 8) & 0xff).toBe(8);
  });

  test("a single vCPU reports no logical processor count", () => {
    expect((leaf(vcpuCpuid(supported(), { vcpuId: 0, vcpuCount: 1 }), 1).ebx >> 16) & 0xff).toBe(0);
  });

  test("puts the x2APIC ID in EDX of every leaf 0xB subleaf", () => {
    const es = vcpuCpuid(supported(), { vcpuId: 2, vcpuCount: 4 });
    expect([0, 1, 2].map((i) => leaf(es, 0xb, i).edx)).toEqual([2, 2, 2]);
  });

  test("describes an even count as two threads per core", () => {
    const es = vcpuCpuid(supported(), { vcpuId: 0, vcpuCount: 4 });
    expect(leaf(es, 0xb, 0)).toMatchObject({ eax: 1, ebx: 2, ecx: 0x100 });
    expect(leaf(es, 0xb, 1)).toMatchObject({ eax: 2, ebx: 4, ecx: 0x201 });
    expect(leaf(es, 0xb, 2)).toMatchObject({ eax: 0, ebx: 0, ecx: 0 });
    expect(leaf(es, 4).eax >>> 26).toBe(1);
  });

  test("with noSmt every vCPU is its own core", () => {
    const es = vcpuCpuid(supported(), { vcpuId: 0, vcpuCount: 4, noSmt: true });
    expect(leaf(es, 0xb, 0)).toMatchObject({ eax: 0, ebx: 1 });
    expect(leaf(es, 4).eax >>> 26).toBe(3);
  });

  test("one vCPU has one core in leaf 4", () => {
    expect(leaf(vcpuCpuid(supported(), { vcpuId: 0, vcpuCount: 1 }), 4).eax >>> 26).toBe(0);
  });

  test("hides VMX and SVM unless nested is on", () => {
    const off = vcpuCpuid(supported(), { vcpuId: 0, vcpuCount: 1 });
    expect((leaf(off, 1).ecx >> 5) & 1).toBe(0);
    expect((leaf(off, 0x8000_0001).ecx >> 2) & 1).toBe(0);
    const on = vcpuCpuid(supported(), { vcpuId: 0, vcpuCount: 1, nested: true });
    expect((leaf(on, 1).ecx >> 5) & 1).toBe(1);
  });

  test("sets x2APIC and TSC-deadline bits from the irqchip", () => {
    const es = vcpuCpuid(supported(), { vcpuId: 0, vcpuCount: 1, x2apic: false, tscDeadlineTimer: true });
    expect((leaf(es, 1).ecx >> 21) & 1).toBe(0);
    expect((leaf(es, 1).ecx >> 24) & 1).toBe(1);
  });

  test("keeps the KVM signature leaf", () => {
    expect(leaf(vcpuCpuid(supported(), { vcpuId: 0, vcpuCount: 2 }), 0x4000_0000)).toEqual(
      leaf(supported(), 0x4000_0000),
    );
  });

  test("does not modify the supported list", () => {
    const list = supported();
    vcpuCpuid(list, { vcpuId: 1, vcpuCount: 2 });
    expect(list).toEqual(supported());
  });

  test("refuses a vCPU id outside the count", () => {
    expect(() => vcpuCpuid(supported(), { vcpuId: 2, vcpuCount: 2 })).toThrow(RangeError);
  });
});

describe("physAddrBits", () => {
  test("reads leaf 0x80000008 EAX[7:0]", () => {
    expect(physAddrBits(supported())).toBe(0x30);
  });
});
