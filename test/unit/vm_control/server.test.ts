import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as libc from "../../../ffi/libc.ts";
import { MAX_MESSAGE_SIZE } from "../../../src/vm_control/protocol.ts";
import { newSeqpacketSocket } from "../../../src/vm_control/seqpacket.ts";
import { ControlServer, ControlServerError } from "../../../src/vm_control/server.ts";
import { FakeVm, rawConnect, rawExchange, receiveText, tempDir } from "./fake_vm.ts";

describe("ControlServer", () => {
  let tmp: { dir: string; cleanup: () => void };
  let vm: FakeVm;
  const servers: ControlServer[] = [];
  const listen = (path: string, options?: Parameters<typeof ControlServer.listen>[2]) => {
    const server = ControlServer.listen(path, vm, { ...options });
    servers.push(server);
    return server;
  };

  beforeEach(() => {
    tmp = tempDir();
    vm = new FakeVm();
  });

  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
    tmp.cleanup();
  });

  test("creates the socket file with mode 0600", () => {
    const server = listen(join(tmp.dir, "vm.sock"));

    const st = statSync(server.path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
  });

  test("a directory path puts the socket at crosvm-<pid>.sock inside it", () => {
    const server = listen(tmp.dir, { pid: 4242 });

    expect(server.path).toBe(join(tmp.dir, "crosvm-4242.sock"));
    expect(statSync(server.path).isSocket()).toBe(true);
  });

  test("the default pid in the socket name is this process's", () => {
    const server = listen(tmp.dir);

    expect(server.path).toBe(join(tmp.dir, `crosvm-${process.pid}.sock`));
  });

  test("close removes the socket file", async () => {
    const server = listen(join(tmp.dir, "vm.sock"));

    await server.close();

    expect(existsSync(server.path)).toBe(false);
  });

  test("the socket file is removed when the process exits without close()", async () => {
    const script = join(import.meta.dir, "exit_without_close.ts");
    const proc = Bun.spawn([process.execPath, script, join(tmp.dir, "vm.sock")], { stdout: "pipe" });
    const printed = (await new Response(proc.stdout).text()).trim();

    expect(await proc.exited).toBe(0);
    expect(printed).toBe(join(tmp.dir, "vm.sock"));
    expect(existsSync(printed)).toBe(false);
  });

  test("a request is passed to the handler and its answer sent back", async () => {
    const server = listen(join(tmp.dir, "vm.sock"));

    const answer = await rawExchange(server.path, '"Exit"');

    expect(answer).toBe('"Ok"');
    expect(vm.requests).toEqual([{ kind: "Exit" }]);
  });

  test("malformed JSON is answered with ErrString and the server keeps serving", async () => {
    const server = listen(join(tmp.dir, "vm.sock"));

    const bad = JSON.parse(await rawExchange(server.path, "{not json"));
    const good = await rawExchange(server.path, '"Powerbtn"');

    expect(Object.keys(bad)).toEqual(["ErrString"]);
    expect(bad.ErrString).toContain("malformed JSON");
    expect(good).toBe('"Ok"');
  });

  test("an unknown request is answered with ErrString naming it, without reaching the handler", async () => {
    const server = listen(join(tmp.dir, "vm.sock"));

    const answer = JSON.parse(await rawExchange(server.path, '"Sleepbtn"'));

    expect(answer.ErrString).toContain('unknown variant "Sleepbtn"');
    expect(vm.requests).toEqual([]);
  });

  test("an oversized packet is answered with ErrString", async () => {
    const server = listen(join(tmp.dir, "vm.sock"));

    const answer = JSON.parse(await rawExchange(server.path, new Uint8Array(MAX_MESSAGE_SIZE + 10)));

    expect(answer.ErrString).toContain("message limit");
  });

  test("a connection keeps working after a malformed packet", async () => {
    const server = listen(join(tmp.dir, "vm.sock"));
    const conn = rawConnect(server.path);

    conn.send("]]");
    const first = await receiveText(conn.fd);
    conn.send('"ResumeVcpus"');
    const second = await receiveText(conn.fd);
    conn.close();

    expect(first).toStartWith('{"ErrString":');
    expect(second).toBe('"Ok"');
  });

  test("a client hanging up closes its connection on the server", async () => {
    const server = listen(join(tmp.dir, "vm.sock"));
    const conn = rawConnect(server.path);
    conn.send('"Powerbtn"');
    await receiveText(conn.fd);
    expect(server.connectionCount).toBe(1);

    conn.close();
    await Bun.sleep(30);

    expect(server.connectionCount).toBe(0);
  });

  test("requests queued on one connection are answered in order", async () => {
    const server = listen(join(tmp.dir, "vm.sock"));
    let n = 0;
    vm.answer = () => ({ kind: "ErrString", message: `answer ${++n}` });
    const conn = rawConnect(server.path);

    conn.send('"SuspendVcpus"');
    conn.send('"ResumeVcpus"');
    const answers = [await receiveText(conn.fd), await receiveText(conn.fd)];
    conn.close();

    expect(answers).toEqual(['{"ErrString":"answer 1"}', '{"ErrString":"answer 2"}']);
    expect(vm.requests.map((r) => r.kind)).toEqual(["SuspendVcpus", "ResumeVcpus"]);
  });

  test("a handler that throws is answered with ErrString and the server keeps serving", async () => {
    const server = listen(join(tmp.dir, "vm.sock"));
    vm.answer = () => {
      throw new Error("disk 3 does not exist");
    };

    const failed = JSON.parse(await rawExchange(server.path, '"Powerbtn"'));
    vm.answer = { kind: "Ok" };
    const next = await rawExchange(server.path, '"Powerbtn"');

    expect(failed).toEqual({ ErrString: "Powerbtn failed: disk 3 does not exist" });
    expect(next).toBe('"Ok"');
  });

  test("a client that leaves before its answer does not stop the server", async () => {
    const server = listen(join(tmp.dir, "vm.sock"));
    let release = () => {};
    vm.answer = () => new Promise((resolve) => (release = () => resolve({ kind: "Ok" })));
    const leaving = rawConnect(server.path);
    leaving.send('"Exit"');
    while (vm.requests.length === 0) await Bun.sleep(2);

    leaving.close();
    release();
    vm.answer = { kind: "Ok" };

    expect(await rawExchange(server.path, '"Powerbtn"')).toBe('"Ok"');
  });

  test("close sends the answer of a request in flight before closing", async () => {
    const server = listen(join(tmp.dir, "vm.sock"));
    vm.answer = () => Bun.sleep(30).then(() => ({ kind: "Ok" }) as const);
    const conn = rawConnect(server.path);
    conn.send('"Exit"');
    while (vm.requests.length === 0) await Bun.sleep(2);

    await server.close();
    const answer = await receiveText(conn.fd);
    conn.close();

    expect(answer).toBe('"Ok"');
  });

  test("close gives up on a handler that never answers after closeTimeoutMs", async () => {
    const server = listen(join(tmp.dir, "vm.sock"), { closeTimeoutMs: 20 });
    vm.answer = () => new Promise(() => {});
    const conn = rawConnect(server.path);
    conn.send('"Exit"');
    while (vm.requests.length === 0) await Bun.sleep(2);

    const started = Date.now();
    await server.close();
    conn.close();

    expect(Date.now() - started).toBeLessThan(1000);
    expect(existsSync(server.path)).toBe(false);
  });

  test("a stale socket file nobody listens on is replaced", () => {
    const path = join(tmp.dir, "vm.sock");
    const dead = newSeqpacketSocket("dead VM");
    libc.bind(dead, libc.sockaddrUn(path), path);
    libc.close(dead);

    const server = listen(path);

    expect(server.path).toBe(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  test("a second server on a live socket is refused with EADDRINUSE", () => {
    const path = join(tmp.dir, "vm.sock");
    listen(path);

    expect(() => listen(path)).toThrow(ControlServerError);
    expect(() => listen(path)).toThrow("EADDRINUSE");
  });

  test("the refused second server leaves the first one's socket in place", async () => {
    const path = join(tmp.dir, "vm.sock");
    listen(path);

    expect(() => listen(path)).toThrow();

    expect(await rawExchange(path, '"Exit"')).toBe('"Ok"');
  });

  test("a path that is a regular file is refused and left alone", () => {
    const path = join(tmp.dir, "notes.txt");
    writeFileSync(path, "keep me");

    expect(() => listen(path)).toThrow("not a socket");
    expect(statSync(path).isFile()).toBe(true);
  });

  test("a path too long for sun_path is refused with a message naming it", () => {
    const path = join(tmp.dir, `${"x".repeat(120)}.sock`);

    expect(() => listen(path)).toThrow(path);
  });
});
