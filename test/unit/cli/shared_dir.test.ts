// --shared-dir PATH:TAG[:key=value...] (crosvm's colon syntax), its --cfg form, and the one-line refusals.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseRunConfig } from "../../../src/cli/parse_run.ts";
import type { VmConfig } from "../../../src/vmm/config.ts";

const dir = mkdtempSync(join(tmpdir(), "shared-dir-"));
const other = mkdtempSync(join(tmpdir(), "shared-dir-"));
const file = join(dir, "file");
writeFileSync(file, "x");
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(other, { recursive: true, force: true });
});

function parse(...argv: string[]): VmConfig {
  const r = parseRunConfig([...argv, "/vmlinuz"], { extendedStatus: false });
  if (r.help) throw new Error("help");
  return r.config;
}

describe("--shared-dir", () => {
  test("PATH:TAG:type=fs gives a virtio-fs directory with crosvm's defaults", () => {
    expect(parse("--shared-dir", `${dir}:my_tag:type=fs`).sharedDirs).toEqual([
      {
        path: dir,
        tag: "my_tag",
        type: "fs",
        cache: "auto",
        timeout: 5,
        writeback: false,
        rewriteSecurityXattrs: false,
        asciiCasefold: false,
        posixAcl: true,
      },
    ]);
  });

  test("every key is read from the colon syntax", () => {
    const [d] = parse(
      "--shared-dir",
      `${dir}:t:type=fs:cache=always:timeout=3600:writeback=true:rewrite-security-xattrs=true:ascii_casefold=true:posix_acl=false:uidmap=0 1000 1:gidmap=0 1000 1,1 2000 5:dax=false`,
    ).sharedDirs;
    expect(d).toEqual({
      path: dir,
      tag: "t",
      type: "fs",
      cache: "always",
      timeout: 3600,
      writeback: true,
      rewriteSecurityXattrs: true,
      asciiCasefold: true,
      posixAcl: false,
      uidmap: [{ inner: 0, outer: 1000, count: 1 }],
      gidmap: [
        { inner: 0, outer: 1000, count: 1 },
        { inner: 1, outer: 2000, count: 5 },
      ],
    });
  });

  test("PATH:TAG:type=p9 gives a virtio-9p directory with its id map", () => {
    const [d] = parse("--shared-dir", `${dir}:p9_tag:type=p9:uidmap=0 1000 1`).sharedDirs;
    expect([d?.type, d?.tag, d?.uidmap]).toEqual(["p9", "p9_tag", [{ inner: 0, outer: 1000, count: 1 }]]);
  });

  test("uid and gid are read from the colon syntax with the maps that cover them", () => {
    const [d] = parse(
      "--shared-dir",
      `${dir}:t:type=p9:uidmap=1000 5000 1:gidmap=100 600 1:uid=1000:gid=100`,
    ).sharedDirs;

    expect([d?.uid, d?.gid]).toEqual([1000, 100]);
  });

  test("uid and gid of 0, crosvm's default, leave the device process's ids as they are", () => {
    const [d] = parse("--shared-dir", `${dir}:t:uid=0:gid=0`).sharedDirs;

    expect([d?.uid, d?.gid]).toEqual([undefined, undefined]);
  });

  test("without a uidmap any uid is a host uid", () => {
    const [d] = parse("--shared-dir", `${dir}:t:uid=4321`).sharedDirs;

    expect(d?.uid).toBe(4321);
  });

  test("the --cfg form takes uid and gid as numbers", () => {
    const cfg = join(dir, "ids.json");
    writeFileSync(
      cfg,
      JSON.stringify({
        "shared-dir": [{ path: other, tag: "c", uidmap: "5000 5000 1", uid: 5000, gid: 5000 }],
      }),
    );

    const [d] = parse("--cfg", cfg).sharedDirs;

    expect([d?.uid, d?.gid]).toEqual([5000, 5000]);
  });

  test("a uid in --cfg that is not a number is refused naming the key", () => {
    const cfg = join(dir, "bad_ids.json");
    writeFileSync(cfg, JSON.stringify({ "shared-dir": [{ path: other, tag: "c", uid: "root" }] }));

    expect(() => parse("--cfg", cfg)).toThrow(
      'shared-dir[0].uid: expected a uid from 0 to 4294967294, got "root"',
    );
  });

  test("a virtio-fs and a virtio-9p directory may not share a tag", () => {
    expect(() => parse("--shared-dir", `${dir}:t:type=fs`, "--shared-dir", `${other}:t:type=p9`)).toThrow(
      'tag "t" is already used',
    );
  });

  test("several shared directories keep their order", () => {
    const tags = parse("--shared-dir", `${dir}:a`, "--shared-dir", `${other}:b`).sharedDirs.map((d) => d.tag);
    expect(tags).toEqual(["a", "b"]);
  });

  test("the --cfg form is an object per directory", () => {
    const cfg = join(dir, "vm.json");
    writeFileSync(cfg, JSON.stringify({ "shared-dir": [{ path: other, tag: "c", cache: "never" }] }));
    const [d] = parse("--cfg", cfg).sharedDirs;
    expect([d?.tag, d?.cache]).toEqual(["c", "never"]);
  });

  const refusals: [string, string, string][] = [
    ["a missing directory", `${dir}/nope:t`, "does not exist (expected a directory)"],
    ["a file", `${file}:t`, "is not a directory"],
    ["a tag longer than 36 bytes", `${dir}:${"x".repeat(37)}`, "a tag of 1 to 36 bytes"],
    ["an unknown key", `${dir}:t:colour=red`, 'unknown key "colour"'],
    ["dax=true", `${dir}:t:dax=true`, "DAX is not built into this crosvm"],
    ["a type other than fs or p9", `${dir}:t:type=9p`, "fs or p9"],
    ["a bad uidmap", `${dir}:t:uidmap=0 1000`, 'key "uidmap"'],
    [
      "a uid that is not a number",
      `${dir}:t:uid=root`,
      'key "uid" expects a uid from 0 to 4294967294, got "root"',
    ],
    ["a negative uid", `${dir}:t:uid=-1`, 'key "uid" expects a uid from 0 to 4294967294, got "-1"'],
    ["a uid past 2^32-1", `${dir}:t:uid=4294967296`, 'key "uid" expects a uid from 0 to 4294967294'],
    ["the uid (uid_t)-1", `${dir}:t:uid=4294967295`, 'key "uid" expects a uid from 0 to 4294967294'],
    [
      "a gid that is not a number",
      `${dir}:t:gid=1.5`,
      'key "gid" expects a gid from 0 to 4294967294, got "1.5"',
    ],
    [
      "a uid the uidmap does not map",
      `${dir}:t:uidmap=0 1000 1:uid=5`,
      'key "uid": 5 is not mapped by the uidmap (expected a uid it maps)',
    ],
    [
      "a gid the gidmap does not map",
      `${dir}:t:gidmap=0 1000 1:gid=1000`,
      'key "gid": 1000 is not mapped by the gidmap (expected a gid it maps)',
    ],
    [
      "a uid the uidmap maps to (uid_t)-1",
      `${dir}:t:uidmap=1 4294967295 1:uid=1`,
      'key "uid": 1 maps to 4294967295, which is not a valid host uid',
    ],
  ];
  for (const [what, value, message] of refusals) {
    test(`${what} is refused in one line`, () => {
      let error: Error | undefined;
      try {
        parse("--shared-dir", value);
      } catch (e) {
        error = e as Error;
      }
      expect(error?.message).toContain(message);
      expect(error?.message).toContain("--shared-dir");
      expect(error?.message.includes("\n")).toBe(false);
    });
  }

  test("a tag used twice is refused", () => {
    expect(() => parse("--shared-dir", `${dir}:t`, "--shared-dir", `${other}:t`)).toThrow(
      'tag "t" is already used',
    );
  });
});
