import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { moduleLoadOrder } from "../../../scripts/guest/modules.ts";
import { fakeModule } from "./fake_module.ts";

/** A fake /lib/modules/<release> with modules and their depends= lists. */
function modulesTree(modules: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "modules-test-"));
  mkdirSync(join(dir, "kernel/drivers"), { recursive: true });
  for (const [file, depends] of Object.entries(modules)) {
    writeFileSync(join(dir, "kernel/drivers", file), fakeModule(`depends=${depends}\0`));
  }
  return dir;
}

const tree = modulesTree({
  "irqbypass.ko": "",
  "ccp.ko": "",
  "kvm.ko": "irqbypass",
  "kvm-amd.ko": "kvm,ccp",
  "broken.ko": "absent",
});
afterAll(() => rmSync(tree, { recursive: true, force: true }));

test("dependencies load before the module that needs them", async () => {
  const { order } = await moduleLoadOrder(tree, ["kvm_amd"]);

  expect(order.map((m) => m.name)).toEqual(["irqbypass", "kvm", "ccp", "kvm_amd"]);
});

test("requested order is kept where dependencies allow, each module once", async () => {
  const { order } = await moduleLoadOrder(tree, ["ccp", "kvm", "kvm-amd", "irqbypass"]);

  expect(order.map((m) => m.name)).toEqual(["ccp", "irqbypass", "kvm", "kvm_amd"]);
});

test("a requested module the kernel lacks is reported missing, not fatal", async () => {
  const { order, missing } = await moduleLoadOrder(tree, ["9p", "ccp"]);

  expect(missing).toEqual(["9p"]);
  expect(order.map((m) => m.name)).toEqual(["ccp"]);
});

test("a missing dependency is an error naming both modules", async () => {
  await expect(moduleLoadOrder(tree, ["broken"])).rejects.toThrow("module broken depends on absent");
});
