// Kvm, Vm and Vcpu against the real /dev/kvm.
import { afterEach, expect, test } from "bun:test";
import { KVM_CAP_IRQCHIP, KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_UNINITIALIZED } from "../../../ffi/kvm.ts";
import { close, EFD_CLOEXEC, eventfd } from "../../../ffi/libc.ts";
import { Kvm } from "../../../src/hypervisor/kvm.ts";

const opened: { close(): void }[] = [];
const keep = <T extends { close(): void }>(x: T): T => {
  opened.push(x);
  return x;
};
afterEach(() => {
  for (const x of opened.splice(0).reverse()) x.close();
});

test("opening a missing KVM device fails with one line saying so", () => {
  expect(() => Kvm.open("/nonexistent/kvm")).toThrow(
    "/nonexistent/kvm: not found (load the kvm module, or run where KVM is available)",
  );
});

test("a capability the kernel lacks is refused by name", () => {
  const kvm = keep(Kvm.open());

  expect(() => kvm.requireExtension(9999, "a test")).toThrow(
    "/dev/kvm: capability 9999 is not supported by this kernel (needed for a test)",
  );
});

test("the in-kernel irqchip capability is present", () => {
  const kvm = keep(Kvm.open());

  expect(kvm.checkExtension(KVM_CAP_IRQCHIP)).toBeGreaterThan(0);
});

test("general registers written to a vCPU read back the same", () => {
  const kvm = keep(Kvm.open());
  const vm = keep(kvm.createVm());
  const vcpu = keep(vm.createVcpu(0));
  const regs = { ...vcpu.getRegs(), rax: 0x1234_5678_9abc_def0n, rsp: 0x7000n, rip: 0x1000n };

  vcpu.setRegs(regs);

  expect(vcpu.getRegs()).toEqual(regs);
});

test("a new vCPU starts at the x86 reset vector", () => {
  const kvm = keep(Kvm.open());
  const vm = keep(kvm.createVm());
  const vcpu = keep(vm.createVcpu(0));

  const sregs = vcpu.getSregs();

  expect([sregs.cs.selector, sregs.cs.base, vcpu.getRegs().rip]).toEqual([0xf000, 0xffff0000n, 0xfff0n]);
});

test("with the in-kernel irqchip the BSP is runnable and an AP waits for INIT/SIPI", () => {
  const kvm = keep(Kvm.open());
  const vm = keep(kvm.createVm());
  vm.createIrqchip();
  const bsp = keep(vm.createVcpu(0));
  const ap = keep(vm.createVcpu(1));

  expect([bsp.getMpState(), ap.getMpState()]).toEqual([KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_UNINITIALIZED]);
});

test("an eventfd registers as an irqfd for an irqchip GSI and unregisters again", () => {
  const kvm = keep(Kvm.open());
  const vm = keep(kvm.createVm());
  vm.createIrqchip();
  const fd = eventfd(0, EFD_CLOEXEC);
  keep({ close: () => close(fd) });

  vm.registerIrqfd(fd, 4);

  expect(() => vm.unregisterIrqfd(fd, 4)).not.toThrow();
});

test("an eventfd registers as an ioeventfd on an I/O port with a data match and unregisters again", () => {
  const kvm = keep(Kvm.open());
  const vm = keep(kvm.createVm());
  const fd = eventfd(0, EFD_CLOEXEC);
  keep({ close: () => close(fd) });

  vm.registerIoevent(fd, { space: "pio", addr: 0xcfc }, 4, 7n);

  expect(() => vm.unregisterIoevent(fd, { space: "pio", addr: 0xcfc }, 4, 7n)).not.toThrow();
});
