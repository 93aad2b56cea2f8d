// Device kinds of the tests' own, added only by test/kvm/jail/test_entry.ts (the product's kinds are in
// src/devices/virtio/kinds.ts): a device with a writable configuration space, for ReadConfig/WriteConfig round
// trips, and an rng confined by the rng policy that makes a syscall the policy denies, for the sandbox tests.
import * as v from "valibot";
import { EFD_CLOEXEC, EFD_NONBLOCK, eventfd, syscall } from "../../../ffi/libc.ts";
import { BASE_FEATURES } from "../../../src/devices/virtio/device_base.ts";
import { defineDeviceKind } from "../../../src/devices/virtio/kind.ts";
import { RNG_QUEUE_SIZE, VirtioRng } from "../../../src/devices/virtio/rng.ts";
import { X86_64_SYSCALLS } from "../../../src/jail/seccomp/syscall_table.ts";

/** An rng whose 16-byte config space keeps what the driver writes. */
class ConfigEchoDevice extends VirtioRng {
  override readonly debugLabel = "config-echo" as "virtio-rng";
  readonly space = new Uint8Array(16);
  override features(): bigint {
    return BASE_FEATURES;
  }
  override readConfig(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) data[i] = this.space[offset + i] ?? 0;
  }
  override writeConfig(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length && offset + i < this.space.length; i++) this.space[offset + i] = data[i]!;
  }
}

export const configEchoKind = defineDeviceKind({
  name: "config-echo",
  policy: "rng_device",
  schema: v.strictObject({}),
  queueSizes: [RNG_QUEUE_SIZE],
  select: () => [],
  prepare: () => ({ label: "config-echo", backing: [] }),
  build: () => ({ device: new ConfigEchoDevice() }),
});

/** The syscall the denied-syscall device makes: mkdir(2) of /x, which no device policy allows. */
export const DENIED_SYSCALL = "mkdir";

/** Under the policy the process dies here; with --seccomp-log-failures the call goes through (or finds /x). */
function makeDeniedSyscall(): void {
  try {
    syscall(X86_64_SYSCALLS[DENIED_SYSCALL]!, DENIED_SYSCALL, new Uint8Array(Buffer.from("/x\0")));
  } catch {}
}

/** An rng that calls mkdir("/x") on a config write, or as soon as its device process serves. */
class DeniedSyscallRng extends VirtioRng {
  override readonly debugLabel = "denied-syscall-rng" as "virtio-rng";
  override writeConfig(): void {
    makeDeniedSyscall();
  }
}

export const deniedSyscallKind = defineDeviceKind({
  name: "denied-syscall",
  policy: "rng_device",
  schema: v.strictObject({ trigger: v.picklist(["serve-start", "config-write"]) }),
  queueSizes: [RNG_QUEUE_SIZE],
  // In a whole VMM (test_entry.ts run ...): one device, after the product's, that trips at once.
  select: () => [{ trigger: "serve-start" as const }],
  prepare: () => ({ label: "denied-syscall-rng", backing: [] }),
  build(o) {
    const device = new DeniedSyscallRng();
    if (o.trigger === "config-write") return { device };
    // Readable from the start (counter 1): the serve loop's first wait returns it, after confinement and Hello.
    const ready = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
    const trip = {
      fd: ready,
      onReadable: () => {
        makeDeniedSyscall();
        return false; // with --seccomp-log-failures the call returns: drop the source
      },
    };
    return { device, pollSources: [trip] };
  },
});
