import { expect, test } from "bun:test";
import { disassemble } from "../../../src/jail/seccomp/disassembler.ts";
import { compileText } from "./helpers.ts";

test("the listing numbers instructions, shows absolute jump targets and names fields, syscalls and actions", () => {
  const listing = disassemble(compileText("getpid: 1")).split("\n");
  expect(listing.map((l) => l.replace(/\s+;/, " ;"))).toEqual([
    "0000: ld [4] ; arch",
    "0001: jeq #0xc000003e, 0002, 0006",
    "0002: ld [0] ; nr",
    "0003: jset #0x40000000, 0006, 0004",
    "0004: jeq #0x27, 0005, 0006 ; getpid",
    "0005: ret #0x7fff0000 ; ALLOW",
    "0006: ret #0x80000000 ; KILL_PROCESS",
  ]);
});

test("argument loads name the argument and its half", () => {
  const listing = disassemble(compileText("ioctl: arg1 == 0x5401; return ENOTTY"));
  expect(listing).toContain("; args[1] hi");
  expect(listing).toContain("; ERRNO(25)");
});
