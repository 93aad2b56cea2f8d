// The guest's kvmclock across a suspend: GuestClock.freeze() records it, thaw() sets it back, so the time the VM
// spent suspended does not show in the guest's kvmclock.
import { afterEach, expect, test } from "bun:test";
import { Kvm } from "../../../src/hypervisor/kvm.ts";
import { GuestClock } from "../../../src/vmm/guest_clock.ts";

const MS = 1_000_000n;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const fn of cleanups.splice(0).reverse()) fn();
});

function newVm() {
  const kvm = Kvm.open();
  const vm = kvm.createVm();
  cleanups.push(() => {
    vm.close();
    kvm.close();
  });
  return vm;
}

test("the kvmclock advances with host time while the VM is not suspended", async () => {
  const clock = new GuestClock(newVm().fd);
  const before = clock.read();

  await Bun.sleep(300);
  const after = clock.read();

  expect(after - before).toBeGreaterThanOrEqual(290n * MS);
});

test("after thaw() the kvmclock continues from the value freeze() recorded", async () => {
  const clock = new GuestClock(newVm().fd);
  const frozen = clock.freeze();

  await Bun.sleep(300);
  clock.thaw();
  const after = clock.read();

  expect(after).toBeGreaterThanOrEqual(frozen);
  // Well under the 300 ms it was frozen for, with room for a loaded or emulated machine's stalls.
  expect(after - frozen).toBeLessThan(200n * MS);
});
