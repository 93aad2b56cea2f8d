// The block device process resizes its image (control socket `disk resize`, src/disk/raw.ts resize) with
// ftruncate; without it in the policy the device process is killed (SIGSYS) on the first resize.
import { expect, test } from "bun:test";
import { compilePolicyDir, SOURCE_POLICY_DIR } from "../../../src/jail/seccomp/build_policies.ts";
import { decide } from "./helpers.ts";

test("the block device may set its image's size with ftruncate", () => {
  const block = compilePolicyDir(SOURCE_POLICY_DIR).get("block_device")!;

  expect(decide(block, "ftruncate", [3, 6 * 1024 * 1024])).toBe("ALLOW");
});
