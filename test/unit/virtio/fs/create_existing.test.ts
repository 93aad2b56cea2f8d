// CREATE of a name that already exists (without O_EXCL): a regular file is opened as it is; anything else is
// opened on the host by nothing (a FIFO would block the server, a device node would be the host's device).
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { O_RDWR, O_TRUNC } from "../../../../ffi/fs_calls.ts";
import { EINVAL } from "../../../../src/devices/virtio/fs/errnos.ts";
import {
  ATTR,
  CREATE_IN,
  ENTRY_ATTR_OFFSET,
  FUSE_ROOT_ID,
  MKNOD_IN,
  OP,
} from "../../../../src/devices/virtio/fs/layout.ts";
import { concat, FuseHarness, names, structBytes } from "./fuse_harness.ts";

const S_IFIFO = 0o010000;

let h: FuseHarness;
beforeEach(() => {
  h = new FuseHarness();
  h.init();
});
afterEach(() => h.cleanup());

function create(name: string, flags: number, mode = 0o644, uid = 0) {
  return h.call(OP.CREATE, FUSE_ROOT_ID, concat(structBytes(CREATE_IN, { flags, mode }), names(name)), {
    uid,
    gid: uid,
  });
}

describe("CREATE of an existing name", () => {
  test("a FIFO is refused with EINVAL and no handle is opened on it", () => {
    h.call(OP.MKNOD, FUSE_ROOT_ID, concat(structBytes(MKNOD_IN, { mode: S_IFIFO | 0o644 }), names("p")));

    // O_RDWR: the one open of a FIFO that does not wait for a peer, so a regression fails rather than hangs.
    const r = create("p", O_RDWR);

    expect([r.error, h.ctx.handles.size]).toEqual([-EINVAL, 0]);
  });

  test("a regular file is opened with its owner and mode left as they were", () => {
    writeFileSync(join(h.root, "f"), "x");
    chmodSync(join(h.root, "f"), 0o600);

    const r = create("f", O_RDWR, 0o4777, 1234);

    const st = statSync(join(h.root, "f"));
    expect([r.error, h.ctx.handles.size, st.uid, st.mode & 0o7777]).toEqual([0, 1, 0, 0o600]);
  });

  test("a regular file opened with O_TRUNC is emptied, and the reply shows it empty", () => {
    writeFileSync(join(h.root, "f"), "old contents");

    const r = create("f", O_RDWR | O_TRUNC);

    expect([
      statSync(join(h.root, "f")).size,
      r.view.getBigUint64(ENTRY_ATTR_OFFSET + ATTR.at.size, true),
    ]).toEqual([0, 0n]);
  });
});
