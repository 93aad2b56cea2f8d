import { describe, expect, test } from "bun:test";
import { PolicyError } from "../../../src/jail/seccomp/parser.ts";
import { nr, parseFiles, parseText } from "./helpers.ts";

function ruleOf(text: string, name: string) {
  const rule = parseText(text).rules.find((r) => r.name === name);
  if (!rule) throw new Error(`no rule for ${name}`);
  return rule;
}

function errorOf(fn: () => unknown): PolicyError {
  try {
    fn();
  } catch (e) {
    if (e instanceof PolicyError) return e;
    throw e;
  }
  throw new Error("expected a PolicyError");
}

describe("policy parser: statements", () => {
  test("comments, blank lines and trailing comments are ignored", () => {
    const policy = parseText("# header\n\n   \nread: 1 # allow reads\n  # indented comment\n");
    expect(policy.rules.map((r) => r.name)).toEqual(["read"]);
  });

  test("`syscall: 1` is an unconditional allow with the x86-64 number", () => {
    expect(ruleOf("getpid: 1", "getpid")).toMatchObject({ nr: 39, clauses: null, action: { kind: "allow" } });
  });

  test("`allow` is the same as 1", () => {
    expect(ruleOf("read: allow", "read").action).toEqual({ kind: "allow" });
  });

  test("`return ERRNO_NAME` resolves the errno name", () => {
    expect(ruleOf("openat: return ENOENT", "openat").action).toEqual({ kind: "errno", errno: 2 });
  });

  test("`return 1` takes a numeric errno", () => {
    expect(ruleOf("open: return 1", "open").action).toEqual({ kind: "errno", errno: 1 });
  });

  test("named actions: kill, kill-thread, trap, trace, log, user-notify", () => {
    const kinds = ["kill", "kill-thread", "trap", "trace", "log", "user-notify"].map(
      (a) => ruleOf(`read: ${a}`, "read").action!.kind,
    );
    expect(kinds).toEqual(["kill-process", "kill-thread", "trap", "trace", "log", "user-notify"]);
  });

  test("a line ending in a backslash continues on the next line", () => {
    const rule = ruleOf("ioctl: arg1 == 1 || \\\n  arg1 == 2", "ioctl");
    expect(rule.clauses).toHaveLength(2);
  });

  test("`kill` is accepted as a syscall name", () => {
    expect(ruleOf("kill: 1", "kill").nr).toBe(nr("kill"));
  });
});

describe("policy parser: argument expressions", () => {
  test("every comparison operator is parsed with its argument index", () => {
    const ops = ["==", "!=", "<", "<=", ">", ">=", "&", "in"] as const;
    const atoms = ops.map((op) => ruleOf(`mmap: arg3 ${op} 5`, "mmap").clauses![0]![0]);
    expect(atoms).toEqual(ops.map((op) => ({ arg: 3, op, value: 5n })));
  });

  test("|| separates clauses and && separates atoms within a clause", () => {
    const rule = ruleOf("futex: arg1 == 0 && arg2 == 1 || arg1 == 128", "futex");
    expect(rule.clauses).toEqual([
      [
        { arg: 1, op: "==", value: 0n },
        { arg: 2, op: "==", value: 1n },
      ],
      [{ arg: 1, op: "==", value: 128n }],
    ]);
  });

  test("decimal, hex and octal numbers", () => {
    const values = ["42", "0x2a", "0X2A", "052", "0"].map(
      (v) => ruleOf(`read: arg0 == ${v}`, "read").clauses![0]![0]!.value,
    );
    expect(values).toEqual([42n, 42n, 42n, 42n, 0n]);
  });

  test("a negative number is its 64-bit two's complement", () => {
    expect(ruleOf("openat: arg0 == -100", "openat").clauses![0]![0]!.value).toBe(2n ** 64n - 100n);
  });

  test("named constants joined with | are ORed", () => {
    expect(ruleOf("mmap: arg2 in PROT_READ|PROT_WRITE", "mmap").clauses![0]![0]!.value).toBe(3n);
  });

  test("~CONSTANT is the 64-bit complement", () => {
    expect(ruleOf("mmap: arg2 in ~PROT_EXEC", "mmap").clauses![0]![0]!.value).toBe(2n ** 64n - 1n - 4n);
  });

  test("a parenthesised value can be complemented", () => {
    const value = ruleOf("mmap: arg3 in ~(MAP_FIXED|MAP_SHARED)", "mmap").clauses![0]![0]!.value;
    expect(value).toBe((2n ** 64n - 1n) ^ 0x11n);
  });

  test("`& FLAG` parses a mask test", () => {
    expect(ruleOf("clone: arg0 & CLONE_THREAD", "clone").clauses![0]![0]).toEqual({
      arg: 0,
      op: "&",
      value: 0x10000n,
    });
  });

  test("`; return EPERM` sets the action for when the expression is false", () => {
    const rule = ruleOf("ioctl: arg1 == TCGETS; return EPERM", "ioctl");
    expect(rule.action).toEqual({ kind: "errno", errno: 1 });
  });

  test("a conditional line without `;` leaves the fallback to the policy default", () => {
    expect(ruleOf("ioctl: arg1 == FIONBIO", "ioctl").action).toBeNull();
  });

  test("several conditional lines for one syscall are merged into one disjunction", () => {
    const rule = ruleOf("prctl: arg0 == PR_SET_VMA\nprctl: arg0 == PR_SET_NAME", "prctl");
    expect(rule.clauses!.map((c) => c[0]!.value)).toEqual([0x53564d41n, 15n]);
  });
});

describe("policy parser: directives", () => {
  test("@include reads a file relative to the including file", () => {
    const policy = parseFiles(
      {
        "/p/dev/main.policy": "@include ./common.policy\nread: 1",
        "/p/dev/common.policy": "write: 1",
      },
      "/p/dev/main.policy",
    );
    expect(policy.rules.map((r) => r.name)).toEqual(["write", "read"]);
    expect(policy.files).toEqual(["/p/dev/main.policy", "/p/dev/common.policy"]);
  });

  test("@include ../ paths and nested includes resolve from each file's own directory", () => {
    const policy = parseFiles(
      {
        "/p/a/main.policy": "@include ../b/mid.policy",
        "/p/b/mid.policy": "@include ./leaf.policy",
        "/p/b/leaf.policy": "getpid: 1",
      },
      "/p/a/main.policy",
    );
    expect(policy.rules.map((r) => r.name)).toEqual(["getpid"]);
  });

  test("crosvm's /usr/share/policy/crosvm/ include prefix means the including file's directory", () => {
    const policy = parseFiles({
      "/p/main.policy": "@include /usr/share/policy/crosvm/common.policy",
      "/p/common.policy": "brk: 1",
    });
    expect(policy.rules.map((r) => r.name)).toEqual(["brk"]);
  });

  test("@frequency lines are accepted and ignored", () => {
    expect(parseText("@frequency ./common_device.frequency\nread: 1").rules).toHaveLength(1);
  });

  test("@default sets the action for unlisted syscalls", () => {
    expect(parseText("@default trap\nread: 1").defaultAction).toEqual({ kind: "trap" });
  });
});

describe("policy parser: malformed input names file:line", () => {
  const cases: [string, string, RegExp][] = [
    ["unknown syscall", "read: 1\nnot_a_syscall: 1", /unknown syscall "not_a_syscall"/],
    ["missing colon", "read: 1\nread 1", /expected ":"/],
    ["unknown constant", "read: 1\nmmap: arg2 == PROT_BOGUS", /unknown constant "PROT_BOGUS"/],
    ["argument index past arg5", "read: 1\nmmap: arg6 == 1", /out of range/],
    ["bad operator", "read: 1\nmmap: arg1 is 1", /expected an operator .* got "is"/],
    ["invalid number", "read: 1\nmmap: arg1 == 0x", /invalid number "0x"/],
    ["bad octal digit", "read: 1\nmmap: arg1 == 09", /invalid number "09"/],
    ["number over 64 bits", "read: 1\nmmap: arg1 == 0x10000000000000000", /does not fit in 64 bits/],
    ["numeric action other than 1", "read: 1\nwrite: 0", /a number action must be 1/],
    ["unknown action", "read: 1\nwrite: maybe", /invalid action "maybe"/],
    ["errno out of range", "read: 1\nwrite: return 70000", /SECCOMP_RET_DATA/],
    ["trailing tokens", "read: 1\nwrite: 1 2", /unexpected "2"/],
    ["empty filter", "read: 1\nwrite:", /expected an action at end of line/],
    ["dangling ||", "read: 1\nwrite: arg0 == 1 ||", /expected an argument/],
    ["unclosed parenthesis", "read: 1\nwrite: arg0 in ~(1|2", /unclosed parenthesis/],
    ["double complement", "read: 1\nwrite: arg0 in ~~1", /double complement/],
    ["unknown directive", "read: 1\n@bogus x", /unknown directive "@bogus"/],
    ["@denylist", "read: 1\n@denylist", /not supported/],
    ["permissive @default", "read: 1\n@default allow", /@default takes one of/],
    ["bad character", "read: 1\nwrite: arg0 == $1", /unexpected character "\$"/],
    [
      "duplicate unconditional",
      "read: 1\nread: 1",
      /already has an unconditional filter at \/p\/main.policy:1/,
    ],
    ["conditional after unconditional", "read: 1\nread: arg0 == 1", /already has an unconditional filter/],
    [
      "conflicting fallbacks",
      "read: 1\nioctl: arg1 == 1; return EPERM\nioctl: arg1 == 2; return EIO",
      /different fallback action/,
    ],
  ];
  for (const [what, text, reason] of cases) {
    const lastLine = text.split("\n").length;
    test(`${what} is refused with file:line ${lastLine} and the reason`, () => {
      const err = errorOf(() => parseText(text));
      expect(err.message).toStartWith(`/p/main.policy:${lastLine}: `);
      expect(err.reason).toMatch(reason);
    });
  }

  test("an error in an included file names that file and its line", () => {
    const err = errorOf(() =>
      parseFiles({
        "/p/main.policy": "read: 1\n@include ./inc.policy",
        "/p/inc.policy": "\n\nbogus_call: 1",
      }),
    );
    expect(err.message).toStartWith("/p/inc.policy:3: ");
  });

  test("an include cycle is refused at the @include that closes it", () => {
    const err = errorOf(() =>
      parseFiles({
        "/p/main.policy": "@include ./a.policy",
        "/p/a.policy": "read: 1\n@include ./main.policy",
      }),
    );
    expect(err.message).toStartWith(
      "/p/a.policy:2: @include cycle: /p/main.policy -> /p/a.policy -> /p/main.policy",
    );
  });

  test("including a missing file is refused", () => {
    expect(errorOf(() => parseText("@include ./missing.policy")).message).toBe(
      "/p/main.policy:1: @include: cannot open /p/missing.policy",
    );
  });

  test("an implicit relative include path is refused", () => {
    expect(errorOf(() => parseText("@include common.policy")).reason).toMatch(/must start with/);
  });
});
