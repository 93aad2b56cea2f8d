import { expect, test } from "bun:test";
import { AgentClient, encodeRequest, parseAgentLine } from "../../e2e/harness/agent_client.ts";
import { shellCommand, shellQuote } from "../../e2e/harness/shell.ts";
import { parseLdd } from "../../../scripts/guest/rig/payload.ts";

const b64 = (s: string) => Buffer.from(s).toString("base64");

test("a request is `<id> <seconds> <base64 script>` on one line", () => {
  expect(encodeRequest(7, 30, "echo 'a b'\n")).toBe(`7 30 ${b64("echo 'a b'\n")}\n`);
});

test("a reply line decodes to stdout, stderr and exit status", () => {
  const line = `{"id":3,"exit":2,"stdout":"${b64("out\n")}","stderr":"${b64("err\n")}"}\r`;

  expect(parseAgentLine(line)).toEqual({
    kind: "reply",
    id: 3,
    result: { exitCode: 2, stdout: "out\n", stderr: "err\n" },
  });
});

test("noise before the JSON object on a line is skipped", () => {
  expect(parseAgentLine('\u001b[6n{"ready":true}')).toEqual({ kind: "ready" });
});

test("lines that are not JSON objects are ignored", () => {
  expect(parseAgentLine("[    1.234] Linux version 6.1")).toBeUndefined();
});

test("an unknown JSON object is an event", () => {
  expect(parseAgentLine('{"vmmExit":0}')).toEqual({ kind: "event", data: { vmmExit: 0 } });
});

test("exec resolves with the reply carrying its id, fed in pieces", async () => {
  const sent: string[] = [];
  const client = new AgentClient(
    "test",
    async (line) => void sent.push(line),
    () => "",
  );
  client.feed('{"rea');
  client.feed('dy":true}\n');
  const pending = client.exec("echo 42", { timeoutMs: 1000 });
  await Bun.sleep(0);
  const id = Number(sent[0]?.split(" ")[0]);
  client.feed(`{"id":${id},"exit":0,"stdout":"${b64("42\n")}","stderr":""}\n`);

  expect(await pending).toEqual({ exitCode: 0, stdout: "42\n", stderr: "" });
});

test("exec before the ready line is refused", async () => {
  const client = new AgentClient(
    "test",
    async () => {},
    () => "",
  );

  await expect(client.exec("true")).rejects.toThrow("test agent is not ready");
});

test("waitReady times out with the description of what was seen", async () => {
  const client = new AgentClient(
    "test",
    async () => {},
    () => "console: nothing",
  );

  await expect(client.waitReady(10)).rejects.toThrow(/not ready after 10 ms\nconsole: nothing/);
});

test("failAll rejects requests in flight", async () => {
  const client = new AgentClient(
    "test",
    async () => {},
    () => "",
  );
  client.feed('{"ready":true}\n');
  const pending = client.exec("sleep 5", { timeoutMs: 5000 });
  client.failAll(new Error("VM gone"));

  await expect(pending).rejects.toThrow("VM gone");
});

test("shellQuote keeps every character of a word, quotes included", () => {
  const quoted = shellCommand(["printf", "%s|", "it's", "$HOME", "a b"]);
  const out = Bun.spawnSync(["sh", "-c", quoted]).stdout.toString();

  expect(out).toBe("it's|$HOME|a b|");
  expect(shellQuote("x")).toBe("'x'");
});

test("parseLdd finds resolved libraries and the dynamic loader, not the vDSO", () => {
  const output = [
    "\tlinux-vdso.so.1 (0x00007ffd)",
    "\tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007f01)",
    "\t/lib64/ld-linux-x86-64.so.2 (0x00007f02)",
  ].join("\n");

  expect(parseLdd(output)).toEqual(["/lib/x86_64-linux-gnu/libz.so.1", "/lib64/ld-linux-x86-64.so.2"]);
});
