// The vCPU Workers driven directly (no CLI): guest RAM is shared with the host, and stop() gets a vCPU out of
// KVM_RUN even when the guest never exits.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { KVM_PIT_SPEAKER_DUMMY } from "../../../ffi/kvm.ts";
import { logLevelSpecText, setLogLevelSpec } from "../../../src/base/log.ts";
import { Kvm } from "../../../src/hypervisor/kvm.ts";
import type { Vcpu } from "../../../src/hypervisor/vcpu.ts";
import { BiosLoader } from "../../../src/vmm/bios_loader.ts";
import type { VmConfig } from "../../../src/vmm/config.ts";
import { createGuestRam, releaseGuestRam } from "../../../src/vmm/guest_ram.ts";
import { VcpuThreads } from "../../../src/vmm/vcpu_threads.ts";
import type { GuestMemory } from "../../../src/vm_memory/guest_memory.ts";
import { guestImage } from "./guest_build.ts";
import { scaled } from "../time_scale.ts";

// The guests write COM1, which these tests do not map: keep the unmapped-port warnings out of the output, and
// give the level back afterwards (bun test runs every file in one process).
const previousLogSpec = logLevelSpecText();
beforeAll(() => setLogLevelSpec("error"));
afterAll(() => setLogLevelSpec(previousLogSpec));

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

async function bootBios(guest: string, cpus: number): Promise<{ memory: GuestMemory; vcpus: Vcpu[] }> {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  vm.setIdentityMapAddr(0xfeffc000);
  vm.setTssAddr(0xfeffd000);
  vm.createIrqchip();
  vm.createPit2(KVM_PIT_SPEAKER_DUMMY);
  const loader = new BiosLoader(await guestImage(guest));
  const memory = createGuestRam([{ guestAddr: 0, size: 2 << 20 }, ...loader.extraRegions()]);
  vm.addGuestMemory(memory);
  const vcpus = Array.from({ length: cpus }, (_, i) => vm.createVcpu(i));
  loader.load({ config: {} as VmConfig, kvm, vm, memory, vcpus });
  cleanups.push(() => {
    vcpus.forEach((v) => v.close());
    vm.close();
    releaseGuestRam(memory);
    kvm.close();
  });
  return { memory, vcpus };
}

test("two vCPUs count concurrently and the host sees both counters in guest RAM", async () => {
  const { memory, vcpus } = await bootBios("smp", 2);
  const threads = new VcpuThreads();
  await threads.start(vcpus, [], []);

  threads.go();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && (memory.readU32(0x1000) < 20000 || memory.readU32(0x1004) < 20000))
    await Bun.sleep(10);
  await threads.stop();

  expect([memory.readU32(0x1000), memory.readU32(0x1004)]).toEqual([20000, 20000]);
});

test("stop() ends a vCPU that spins in the guest without exits", async () => {
  const { vcpus } = await bootBios("spin", 1);
  const threads = new VcpuThreads();
  await threads.start(vcpus, [], []);
  threads.go();
  await Bun.sleep(200);

  const started = performance.now();
  await threads.stop();

  expect(performance.now() - started).toBeLessThan(scaled(1000));
});

test("pause() keeps the guest from running until resume()", async () => {
  const { memory, vcpus } = await bootBios("count_ram", 1);
  const threads = new VcpuThreads();
  await threads.start(vcpus, [], []);
  threads.go();
  while (memory.readU32(0x1000) === 0) await Bun.sleep(10);

  await threads.pause();
  const atPause = memory.readU32(0x1000);
  await Bun.sleep(300);
  const afterWait = memory.readU32(0x1000);
  threads.resume();
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && memory.readU32(0x1000) === afterWait) await Bun.sleep(10);
  const afterResume = memory.readU32(0x1000);
  await threads.stop();

  expect(afterWait).toBe(atPause);
  expect(afterResume).not.toBe(afterWait);
});

test("stop() ends paused vCPUs", async () => {
  const { vcpus } = await bootBios("count_ram", 2);
  const threads = new VcpuThreads();
  await threads.start(vcpus, [], []);
  threads.go();
  await Bun.sleep(100);
  await threads.pause();

  const started = performance.now();
  await threads.stop();

  expect(performance.now() - started).toBeLessThan(scaled(1000));
});
