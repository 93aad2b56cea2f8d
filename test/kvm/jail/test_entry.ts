// The crosvm executable as the jail tests run it: src/main.ts with the tests' own device kinds added
// (test_kinds.ts). Device processes started by it run this entry too (spawn.ts deviceProcessCommand), so both
// sides know the test kinds; the product entry never adds them.
import { addVirtioDeviceKind } from "../../../src/devices/virtio/kinds.ts";
import { configEchoKind, deniedSyscallKind } from "./test_kinds.ts";

addVirtioDeviceKind(configEchoKind);
addVirtioDeviceKind(deniedSyscallKind);
await import("../../../src/main.ts");
