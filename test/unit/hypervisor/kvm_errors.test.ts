import { expect, test } from "bun:test";
import { kvmOpenError } from "../../../src/hypervisor/kvm.ts";

test("an inaccessible /dev/kvm says to join the kvm group", () => {
  expect(kvmOpenError("/dev/kvm", "EACCES").message).toBe(
    "/dev/kvm: permission denied (add the user to the kvm group)",
  );
});

test("a missing /dev/kvm says KVM is not available", () => {
  expect(kvmOpenError("/dev/kvm", "ENOENT").message).toBe(
    "/dev/kvm: not found (load the kvm module, or run where KVM is available)",
  );
});

test("another open failure names the errno", () => {
  expect(kvmOpenError("/dev/kvm", "EBUSY").message).toBe("/dev/kvm: cannot open: EBUSY");
});
