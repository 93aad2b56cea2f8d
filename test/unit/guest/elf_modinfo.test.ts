import { expect, test } from "bun:test";
import { moduleDependencies, normalizeModuleName, readModinfo } from "../../../scripts/guest/elf_modinfo.ts";
import { fakeModule } from "./fake_module.ts";

test("readModinfo returns the key=value strings of .modinfo", () => {
  const info = readModinfo(fakeModule("license=GPL\0name=kvm_amd\0vermagic=6.1.0\0"), "kvm-amd.ko");

  expect(info.get("name")).toBe("kvm_amd");
  expect(info.get("license")).toBe("GPL");
});

test("moduleDependencies splits depends= and writes '-' as '_'", () => {
  const deps = moduleDependencies(fakeModule("depends=kvm,ccp,virtio-ring\0name=kvm_amd\0"), "kvm-amd.ko");

  expect(deps).toEqual(["kvm", "ccp", "virtio_ring"]);
});

test("a module with an empty depends= has no dependencies", () => {
  expect(moduleDependencies(fakeModule("depends=\0name=virtio\0"), "virtio.ko")).toEqual([]);
});

test("a file that is not ELF is refused with its name", () => {
  expect(() => readModinfo(new Uint8Array(64), "junk.ko")).toThrow("junk.ko: not a 64-bit ELF file");
});

test("normalizeModuleName drops .ko and compression suffixes", () => {
  expect(normalizeModuleName("virtio-rng.ko")).toBe("virtio_rng");
  expect(normalizeModuleName("kvm-amd.ko.xz")).toBe("kvm_amd");
});
