// The host side of a share (host_fs.ts) on its own: the ".." walk that decides whether a directory node is still
// below the shared directory, at depths past one statx path (DOTDOT_HOP levels).
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, renameSync } from "node:fs";
import { join } from "node:path";
import { O_CLOEXEC, open } from "../../../../ffi/libc.ts";
import { O_DIRECTORY, O_PATH, S_IFDIR } from "../../../../ffi/fs_calls.ts";
import { DOTDOT_HOP, dotdots } from "../../../../src/devices/virtio/fs/host_fs.ts";
import type { Inode } from "../../../../src/devices/virtio/fs/inodes.ts";
import { FuseHarness } from "./fuse_harness.ts";

let h: FuseHarness | undefined;
afterEach(() => h?.cleanup());

/** The node of host directory `path` (an O_PATH descriptor opened directly, as a LOOKUP chain would make it). */
function nodeOfDir(fs: FuseHarness, path: string): Inode {
  const fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
  expect(fs.ctx.statFd(fd)).toBe(0);
  return fs.ctx.inodes.add(fs.ctx.statKey(), fd, S_IFDIR);
}

describe("HostFs.insideShare", () => {
  test("dotdots(k) is k '..' components joined by '/', NUL-terminated", () => {
    expect(new TextDecoder().decode(dotdots(1))).toBe("..\0");
    expect(new TextDecoder().decode(dotdots(3))).toBe("../../..\0");
    expect(dotdots(DOTDOT_HOP + 2).length).toBe(3 * (DOTDOT_HOP + 2));
  });

  test("a directory several statx paths (DOTDOT_HOP levels each) below the share is inside it", () => {
    h = new FuseHarness();
    const deep = join(h.root, ...Array<string>(3 * DOTDOT_HOP + 5).fill("d"));
    mkdirSync(deep, { recursive: true });
    const node = nodeOfDir(h, deep);

    expect(h.ctx.insideShare(node)).toBe(true);
  });

  test("that deep directory is no longer inside once its top is moved out of the share", () => {
    h = new FuseHarness();
    const deep = join(h.root, ...Array<string>(3 * DOTDOT_HOP + 5).fill("d"));
    mkdirSync(deep, { recursive: true });
    const node = nodeOfDir(h, deep);
    renameSync(join(h.root, "d"), join(h.outside, "d"));

    expect(h.ctx.insideShare(node)).toBe(false);
  });

  test("a directory moved out of the share is not inside it, one level down or two", () => {
    h = new FuseHarness();
    mkdirSync(join(h.root, "a", "b"), { recursive: true });
    const a = nodeOfDir(h, join(h.root, "a"));
    const b = nodeOfDir(h, join(h.root, "a", "b"));
    renameSync(join(h.root, "a"), join(h.outside, "a"));

    expect([h.ctx.insideShare(a), h.ctx.insideShare(b)]).toEqual([false, false]);
  });

  test("the check leaves the last stat as it was", () => {
    h = new FuseHarness();
    mkdirSync(join(h.root, "a", "b"), { recursive: true });
    const b = nodeOfDir(h, join(h.root, "a", "b"));
    const before = h.ctx.stat.slice();

    h.ctx.insideShare(b);

    expect(h.ctx.stat).toEqual(before);
  });
});
