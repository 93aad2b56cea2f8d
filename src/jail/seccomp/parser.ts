// Parser for minijail's seccomp policy language (the format of crosvm's jail/seccomp/*.policy files).
//
//   # comment                           blank lines and comments are ignored; a trailing `\` continues a line
//   @include ./common_device.policy     path relative to the including file; cycles and depth > 10 are refused
//   @frequency ./common_device.frequency  accepted and ignored (it only orders minijail's search tree)
//   @default kill-process               action for syscalls not listed (minijail's python compiler has it)
//   read: 1                             allow unconditionally (also `allow`)
//   open: return ENOENT                 fail with an errno, without running the syscall
//   mmap: arg2 in ~PROT_EXEC            allow when the expression holds, otherwise the default action
//   ioctl: arg1 == FIONBIO || arg1 == TCGETS; return ENOTTY   ... otherwise the action after `;`
//
// Expressions are in disjunctive normal form: atoms `argN OP VALUE` joined by `&&`, clauses joined by `||`.
// OP is ==, !=, <, <=, >, >= (unsigned 64-bit), `&` (some bit of VALUE set) or `in` (no bit outside VALUE set).
// VALUE is constants joined by `|`, each a number (decimal, 0x hex, 0 octal, optionally negative), a name from
// constants.ts, `~CONSTANT` or a parenthesised value.
//
// The meaning of `expr; action` follows libminijail (syscall_filter.c): `action` is what happens when the expression
// is false. Several lines for one syscall are allowed when all are expressions (crosvm's device policies add
// `prctl: arg0 == PR_SET_NAME` to the common `prctl: arg0 == PR_SET_VMA`); the syscall is then allowed when any
// of them holds.
import { existsSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { POLICY_CONSTANTS } from "./constants.ts";
import { X86_64_SYSCALLS } from "./syscall_table.ts";

export type Action =
  | { readonly kind: "allow" }
  | { readonly kind: "kill-process" }
  | { readonly kind: "kill-thread" }
  | { readonly kind: "trap" }
  | { readonly kind: "trace" }
  | { readonly kind: "log" }
  | { readonly kind: "user-notify" }
  | { readonly kind: "errno"; readonly errno: number };

export type Operator = "==" | "!=" | "<" | "<=" | ">" | ">=" | "&" | "in";

/** One comparison `argN OP value`; value is an unsigned 64-bit number. */
export interface Atom {
  readonly arg: number;
  readonly op: Operator;
  readonly value: bigint;
}

export interface SourceLocation {
  readonly file: string;
  readonly line: number;
}

export interface SyscallRule {
  readonly name: string;
  readonly nr: number;
  /** Where the syscall was first named. */
  readonly where: SourceLocation;
  /** null: unconditional; otherwise OR of ANDs of atoms. */
  readonly clauses: readonly (readonly Atom[])[] | null;
  /** Unconditional: the action. Conditional: the action when no clause holds (null = the policy default). */
  readonly action: Action | null;
}

export interface Policy {
  /** From `@default`, or null (the compiler then uses kill-process, or log with logFailures). */
  readonly defaultAction: Action | null;
  /** In order of first appearance. */
  readonly rules: readonly SyscallRule[];
  /** Every file read, the top-level policy first. */
  readonly files: readonly string[];
}

/** A malformed policy: "FILE:LINE: REASON". */
export class PolicyError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}: ${reason}`);
    this.name = "PolicyError";
  }
}

export interface ParseOptions {
  /** Reads a policy file; defaults to the file system. Tests pass an in-memory map. */
  readonly readFile?: (path: string) => string;
  /** Whether a file exists (for include errors); defaults to the file system. */
  readonly exists?: (path: string) => boolean;
}

/** syscall_data has six arguments on x86-64 (include/uapi/linux/seccomp.h: __u64 args[6]). */
export const MAX_SYSCALL_ARGS = 6;
/** Minijail's python parser refuses @include nesting deeper than this. */
const INCLUDE_DEPTH_LIMIT = 10;
/** SECCOMP_RET_DATA is 16 bits wide (include/uapi/linux/seccomp.h). */
const MAX_ERRNO = 0xffff;
const U64_MASK = (1n << 64n) - 1n;
/** crosvm's policies include `/usr/share/policy/crosvm/X`; its jail/build.rs rewrites that prefix to the policy dir. */
const CROSVM_INSTALL_DIR = "/usr/share/policy/crosvm/";

const ACTION_WORDS: Readonly<Record<string, Action>> = {
  allow: { kind: "allow" },
  kill: { kind: "kill-process" },
  "kill-process": { kind: "kill-process" },
  "kill-thread": { kind: "kill-thread" },
  trap: { kind: "trap" },
  trace: { kind: "trace" },
  log: { kind: "log" },
  "user-notify": { kind: "user-notify" },
};
// minijail's python parser: the default action may not be permissive.
const DEFAULT_ACTION_WORDS = new Set(["kill", "kill-process", "kill-thread", "trap", "user-notify"]);
const OPERATORS = new Set<string>(["==", "!=", "<", "<=", ">", ">=", "&", "in"]);

type TokenKind = "word" | "number" | "punct";
interface Token {
  readonly kind: TokenKind;
  readonly text: string;
}

// Longest punctuation first, so `||` wins over `|` and `<=` over `<`.
const PUNCT = [
  "||",
  "&&",
  "==",
  "!=",
  "<=",
  ">=",
  "|",
  "&",
  "<",
  ">",
  ":",
  ";",
  ",",
  "~",
  "(",
  ")",
  "{",
  "}",
  "[",
  "]",
];

/** Parses a policy file (and the files it includes). */
export function parsePolicyFile(path: string, options: ParseOptions = {}): Policy {
  const readFile = options.readFile ?? ((p: string) => readFileSync(p, "utf8"));
  const exists = options.exists ?? (options.readFile ? () => true : existsSync);
  const state: ParserState = {
    readFile,
    exists,
    rules: new Map(),
    files: [],
    defaultAction: null,
    defaultWhere: null,
  };
  parseFile(state, resolve(path), []);
  return {
    defaultAction: state.defaultAction,
    rules: [...state.rules.values()].map(freeze),
    files: state.files,
  };
}

interface MutableRule {
  name: string;
  nr: number;
  where: SourceLocation;
  clauses: Atom[][] | null;
  action: Action | null;
  actionWhere: SourceLocation | null;
}

interface ParserState {
  readFile: (path: string) => string;
  exists: (path: string) => boolean;
  rules: Map<number, MutableRule>;
  files: string[];
  defaultAction: Action | null;
  defaultWhere: SourceLocation | null;
}

function freeze(r: MutableRule): SyscallRule {
  return { name: r.name, nr: r.nr, where: r.where, clauses: r.clauses, action: r.action };
}

function parseFile(state: ParserState, file: string, stack: string[]): void {
  state.files.push(file);
  const lines = state.readFile(file).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    let text = stripComment(lines[i]!);
    // A trailing backslash joins the next line (minijail's getmultiline).
    while (text.trimEnd().endsWith("\\") && i + 1 < lines.length) {
      text = text.trimEnd().slice(0, -1) + " " + stripComment(lines[++i]!);
    }
    text = text.trim();
    if (text === "") continue;
    const at = { file, line: lineNo };
    if (text.startsWith("@")) parseDirective(state, text, at, stack);
    else parseStatement(state, tokenize(text, at), at);
  }
}

function stripComment(line: string): string {
  const hash = line.indexOf("#");
  return (hash < 0 ? line : line.slice(0, hash)).replace(/\r$/, "");
}

function fail(at: SourceLocation, reason: string): never {
  throw new PolicyError(at.file, at.line, reason);
}

function parseDirective(state: ParserState, text: string, at: SourceLocation, stack: string[]): void {
  const [directive, ...rest] = text.split(/\s+/);
  switch (directive) {
    case "@include": {
      if (rest.length !== 1) fail(at, `@include takes one path (got "${rest.join(" ")}")`);
      const target = rest[0]!;
      if (!target.startsWith("/") && !target.startsWith("./") && !target.startsWith("../")) {
        fail(at, `@include path "${target}" must start with "./" or "/"`);
      }
      const here = dirname(at.file);
      const path = target.startsWith(CROSVM_INSTALL_DIR)
        ? resolve(here, target.slice(CROSVM_INSTALL_DIR.length))
        : resolve(here, target);
      const chain = [...stack, at.file];
      if (chain.includes(path)) fail(at, `@include cycle: ${[...chain, path].join(" -> ")}`);
      if (chain.length > INCLUDE_DEPTH_LIMIT)
        fail(at, `@include nested deeper than ${INCLUDE_DEPTH_LIMIT} files`);
      if (!state.exists(path)) fail(at, `@include: cannot open ${path}`);
      parseFile(state, path, chain);
      return;
    }
    case "@frequency":
      // Frequencies only tune the order of minijail's search tree; ours is balanced without them.
      if (rest.length !== 1) fail(at, `@frequency takes one path (got "${rest.join(" ")}")`);
      return;
    case "@default": {
      if (rest.length !== 1 || !DEFAULT_ACTION_WORDS.has(rest[0]!)) {
        fail(at, `@default takes one of ${[...DEFAULT_ACTION_WORDS].join(", ")} (got "${rest.join(" ")}")`);
      }
      const action = ACTION_WORDS[rest[0]!]!;
      if (state.defaultAction && state.defaultAction.kind !== action.kind) {
        fail(at, `@default ${rest[0]} conflicts with the @default at ${where(state.defaultWhere!)}`);
      }
      state.defaultAction = action;
      state.defaultWhere = at;
      return;
    }
    case "@denylist":
      fail(at, "@denylist policies are not supported (only allow lists)");
    default:
      fail(at, `unknown directive "${directive}" (expected @include, @frequency or @default)`);
  }
}

function where(at: SourceLocation): string {
  return `${at.file}:${at.line}`;
}

function tokenize(text: string, at: SourceLocation): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    const word = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(text.slice(i));
    if (word) {
      tokens.push({ kind: "word", text: word[0] });
      i += word[0].length;
      continue;
    }
    const num = /^-?[0-9][0-9A-Za-z_]*/.exec(text.slice(i));
    if (num) {
      tokens.push({ kind: "number", text: num[0] });
      i += num[0].length;
      continue;
    }
    const p = PUNCT.find((s) => text.startsWith(s, i));
    if (!p) fail(at, `unexpected character "${ch}" at column ${i + 1}`);
    tokens.push({ kind: "punct", text: p });
    i += p.length;
  }
  return tokens;
}

/** A cursor over one statement's tokens. */
class Tokens {
  private pos = 0;
  constructor(
    private readonly tokens: Token[],
    readonly at: SourceLocation,
  ) {}
  peek(): Token | undefined {
    return this.tokens[this.pos];
  }
  next(expected: string): Token {
    const t = this.tokens[this.pos++];
    if (!t) fail(this.at, `expected ${expected} at end of line`);
    return t;
  }
  accept(punct: string): boolean {
    const t = this.peek();
    if (t?.kind === "punct" && t.text === punct) {
      this.pos++;
      return true;
    }
    return false;
  }
  done(): boolean {
    return this.pos >= this.tokens.length;
  }
}

// statement = syscall-name ':' filter ;  filter = action | expression [ ';' action ]
function parseStatement(state: ParserState, tokens: Token[], at: SourceLocation): void {
  const ts = new Tokens(tokens, at);
  const nameTok = ts.next("a syscall name");
  if (nameTok.kind !== "word") fail(at, `expected a syscall name, got "${nameTok.text}"`);
  const name = nameTok.text;
  const nr = X86_64_SYSCALLS[name];
  if (nr === undefined) fail(at, `unknown syscall "${name}" (not in the x86-64 syscall table)`);
  const colon = ts.next('":"');
  if (colon.text !== ":") fail(at, `expected ":" after "${name}", got "${colon.text}"`);

  let clauses: Atom[][] | null = null;
  let action: Action | null;
  const first = ts.peek();
  if (first?.kind === "word" && /^arg[0-9]+$/.test(first.text)) {
    clauses = parseExpression(ts);
    action = ts.accept(";") ? parseAction(ts) : null;
  } else {
    action = parseAction(ts);
  }
  const extra = ts.peek();
  if (extra) fail(at, `unexpected "${extra.text}" after the filter of "${name}"`);
  addRule(state, { name, nr, where: at, clauses, action, actionWhere: action ? at : null });
}

function addRule(state: ParserState, rule: MutableRule): void {
  const prev = state.rules.get(rule.nr);
  if (!prev) {
    state.rules.set(rule.nr, rule);
    return;
  }
  if (!prev.clauses || !rule.clauses) {
    fail(rule.where, `syscall "${rule.name}" already has an unconditional filter at ${where(prev.where)}`);
  }
  if (rule.action && prev.action && !sameAction(rule.action, prev.action)) {
    fail(rule.where, `syscall "${rule.name}" has a different fallback action at ${where(prev.actionWhere!)}`);
  }
  prev.clauses.push(...rule.clauses);
  if (rule.action && !prev.action) {
    prev.action = rule.action;
    prev.actionWhere = rule.where;
  }
}

function sameAction(a: Action, b: Action): boolean {
  return a.kind === b.kind && (a.kind !== "errno" || a.errno === (b as { errno: number }).errno);
}

// action = 'allow' | '1' | 'kill' | 'kill-process' | 'kill-thread' | 'trap' | 'trace' | 'log' | 'user-notify'
//        | 'return' single-constant
function parseAction(ts: Tokens): Action {
  const t = ts.next("an action");
  if (t.kind === "number") {
    if (parseNumber(t.text, ts.at) === 1n) return { kind: "allow" };
    fail(ts.at, `invalid action "${t.text}" (a number action must be 1)`);
  }
  if (t.kind === "word" && t.text === "return") {
    const value = parseSingleConstant(ts.next("an errno after return"), ts.at);
    if (value > BigInt(MAX_ERRNO))
      fail(ts.at, `return value ${value} does not fit SECCOMP_RET_DATA (0..65535)`);
    return { kind: "errno", errno: Number(value) };
  }
  const action = t.kind === "word" ? ACTION_WORDS[t.text] : undefined;
  if (!action)
    fail(ts.at, `invalid action "${t.text}" (expected 1, allow, return ERRNO, kill, trap, log, ...)`);
  return action;
}

// expression = clause { '||' clause } ;  clause = atom { '&&' atom }
function parseExpression(ts: Tokens): Atom[][] {
  const clauses: Atom[][] = [];
  do {
    const clause: Atom[] = [];
    do clause.push(parseAtom(ts));
    while (ts.accept("&&"));
    clauses.push(clause);
  } while (ts.accept("||"));
  return clauses;
}

// atom = 'argN' operator value
function parseAtom(ts: Tokens): Atom {
  const argTok = ts.next("an argument (arg0..arg5)");
  const m = /^arg([0-9]+)$/.exec(argTok.text);
  if (argTok.kind !== "word" || !m) fail(ts.at, `expected an argument (arg0..arg5), got "${argTok.text}"`);
  const arg = Number(m[1]);
  if (arg >= MAX_SYSCALL_ARGS) fail(ts.at, `argument "${argTok.text}" out of range (arg0..arg5)`);
  const opTok = ts.next("an operator");
  if (!OPERATORS.has(opTok.text)) {
    fail(
      ts.at,
      `expected an operator (==, !=, <, <=, >, >=, &, in) after ${argTok.text}, got "${opTok.text}"`,
    );
  }
  return { arg, op: opTok.text as Operator, value: parseValue(ts) };
}

// value = constant { '|' constant } ;  constant = [ '~' ] ( '(' value ')' | single-constant )
function parseValue(ts: Tokens): bigint {
  let value = 0n;
  do value |= parseConstant(ts);
  while (ts.accept("|"));
  return value;
}

function parseConstant(ts: Tokens): bigint {
  const negate = ts.accept("~");
  if (negate && ts.peek()?.text === "~") fail(ts.at, "double complement ~~ is not allowed");
  let value: bigint;
  if (ts.accept("(")) {
    value = parseValue(ts);
    if (!ts.accept(")")) fail(ts.at, "unclosed parenthesis");
  } else {
    value = parseSingleConstant(ts.next("a value"), ts.at);
  }
  return negate ? ~value & U64_MASK : value;
}

function parseSingleConstant(t: Token, at: SourceLocation): bigint {
  if (t.kind === "number") return parseNumber(t.text, at);
  if (t.kind === "word") {
    const value = POLICY_CONSTANTS.get(t.text);
    if (value === undefined) fail(at, `unknown constant "${t.text}"`);
    return value & U64_MASK;
  }
  fail(at, `expected a value, got "${t.text}"`);
}

/** C strtol-style numbers: 0x hex, leading-0 octal, decimal; negative ones become their 64-bit two's complement. */
function parseNumber(text: string, at: SourceLocation): bigint {
  const negative = text.startsWith("-");
  const body = negative ? text.slice(1) : text;
  let value: bigint;
  if (/^0[xX][0-9a-fA-F]+$/.test(body)) value = BigInt(body);
  else if (/^0[0-7]+$/.test(body)) value = BigInt(`0o${body.slice(1)}`);
  else if (/^(0|[1-9][0-9]*)$/.test(body)) value = BigInt(body);
  else fail(at, `invalid number "${text}"`);
  if (negative) {
    if (value > 1n << 63n) fail(at, `number "${text}" is below the signed 64-bit range`);
    return -value & U64_MASK;
  }
  if (value > U64_MASK) fail(at, `number "${text}" does not fit in 64 bits`);
  return value;
}
