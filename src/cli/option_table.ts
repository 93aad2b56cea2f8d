// What an entry of an option table is (run_options.ts for `crosvm run`, global_options.ts for `crosvm`), and what
// every consumer derives from a table: the parsed arguments' type (`ArgsOf`), empty arguments and how layers merge
// (crosvm's RunCommand `#[merge(strategy = overwrite_option)]` / `append`: a single value given by a later layer
// replaces the earlier one, a list is extended). The scanner (scan_options.ts), the help (help.ts) and the --cfg
// schema (cfg.ts) read the same entries.
import * as v from "valibot";
import { ArgumentError } from "./errors.ts";
import { decodeKeyValues } from "./keyvalue.ts";
import { path } from "./option_specs.ts";
import type { KeyValueSpec, OptionSchema } from "./schema_shape.ts";

/** A value with where it came from ("--block", "--root", a --cfg file's path), for messages. */
export interface Given<T> {
  readonly value: T;
  readonly from: string;
}

/** An older spelling of an option (crosvm's --disk for --block ro): its own name, help and fixed keys. */
export interface DeprecatedForm<T> {
  readonly long: string;
  readonly short?: string;
  readonly repeatable: boolean;
  readonly help: string;
  /** Keys the form fixes, left out of its "Valid keys" help. */
  readonly fixedKeys: readonly string[];
  /** Applies what the form fixes to a decoded value. */
  readonly adjust: (value: T) => T;
  /** Logged once when the form is used. */
  readonly warning: string;
}

export interface OptionEntry<T = unknown, R extends boolean = boolean> {
  readonly short?: string;
  /** The value's placeholder in usage and errors ("PATH"); absent for a switch, which takes no value. */
  readonly argName?: string;
  /** May be given more than once; the values form a list. */
  readonly repeatable: R;
  /** The help text; a key=value option's "Valid keys" are added from its schema. */
  readonly help: string;
  readonly keyValues?: KeyValueSpec;
  /** One command-line value to the option's value; `option` is the name used, for errors. */
  readonly decode: (text: string, option: string) => T;
  /** One value in a --cfg file (a list option's file value is a list of these); absent: not allowed in files. */
  readonly file?: v.GenericSchema<unknown, T>;
  /** "a list of ..." message of a list option in files. */
  readonly fileList?: string;
  readonly deprecated?: readonly DeprecatedForm<T>[];
  /** A command-line value that changes the VM from the defaults (the table test gives it to every option). */
  readonly example?: string;
  /** Other options the example needs beside it (crosvm's --host-ip goes with --netmask and --mac). */
  readonly exampleWith?: readonly string[];
}

export type AnyEntry = OptionEntry<any, boolean>;
export type OptionTable = Readonly<Record<string, AnyEntry>>;

/** The parsed options of a table: a list of given values for a repeatable option, else the last one given. */
export type ArgsOf<Table extends OptionTable> = {
  -readonly [K in keyof Table]: Table[K] extends OptionEntry<infer T, true>
    ? Given<T>[]
    : Table[K] extends OptionEntry<infer T, false>
      ? Given<T> | undefined
      : never;
};

interface Common<R extends boolean> {
  readonly help: string;
  readonly short?: string;
  readonly argName?: string;
  readonly repeatable?: R;
  readonly example?: string;
  readonly exampleWith?: readonly string[];
  readonly fileList?: string;
  /** Not allowed in --cfg files. */
  readonly commandLineOnly?: boolean;
}

function entry<T, R extends boolean>(
  o: Common<R>,
  parts: Pick<OptionEntry<T, R>, "decode" | "file" | "keyValues" | "deprecated"> & { argName?: string },
): OptionEntry<T, R> {
  const out: OptionEntry<T, R> = {
    help: o.help,
    repeatable: (o.repeatable ?? false) as R,
    decode: parts.decode,
    ...(o.short !== undefined ? { short: o.short } : {}),
    ...((o.argName ?? parts.argName) !== undefined ? { argName: o.argName ?? parts.argName } : {}),
    ...(o.example !== undefined ? { example: o.example } : {}),
    ...(o.exampleWith !== undefined ? { exampleWith: o.exampleWith } : {}),
    ...(o.fileList !== undefined ? { fileList: o.fileList } : {}),
    ...(parts.file !== undefined && !o.commandLineOnly ? { file: parts.file } : {}),
    ...(parts.keyValues !== undefined ? { keyValues: parts.keyValues } : {}),
    ...(parts.deprecated !== undefined ? { deprecated: parts.deprecated } : {}),
  };
  return out;
}

/** A key=value option's schema with the "expected ..." message of a value in files, keeping its object checks. */
function fileObject<S extends OptionSchema>(spec: KeyValueSpec<S>, message: string) {
  const object = v.strictObject(spec.schema.entries, message);
  const checks = "pipe" in spec.schema ? (spec.schema.pipe as v.PipeItem<any, any, any>[]).slice(1) : [];
  const schema = checks.length === 0 ? object : v.pipe(object, ...(checks as [v.PipeItem<any, any, any>]));
  return schema as unknown as v.GenericSchema<unknown, v.InferOutput<S>>;
}

/** Constructors of table entries, one per kind of value. */
export const option = {
  /** `--name`: true when given; a file may say true or false. */
  switch(
    o: Omit<Common<false>, "argName" | "repeatable" | "example" | "fileList">,
  ): OptionEntry<boolean, false> {
    return entry(o, { decode: () => true, file: v.boolean("a boolean") });
  },

  /** `--name PATH`: a non-empty path shorter than PATH_MAX. */
  path<R extends boolean = false>(o: Common<R>): OptionEntry<string, R> {
    return entry(o, {
      argName: "PATH",
      decode: (text, name) => {
        const result = v.safeParse(path, text);
        if (!result.success) throw new ArgumentError(`${name}: expected ${result.issues[0].message}`);
        return text;
      },
      file: path,
    });
  },

  /** `--name TEXT`: any string. */
  text<R extends boolean = false>(o: Common<R> & { argName: string }): OptionEntry<string, R> {
    return entry(o, { decode: (text) => text, file: v.string("a string") });
  },

  /** `--name N`: an integer in [min, max], on the command line and in files (a JSON number). */
  integer<R extends boolean = false>(
    o: Common<R> & { readonly min: number; readonly max: number },
  ): OptionEntry<number, R> {
    const expected = `an integer from ${o.min} to ${o.max}`;
    const schema = v.pipe(
      v.number(expected),
      v.integer(expected),
      v.minValue(o.min, expected),
      v.maxValue(o.max, expected),
    );
    return entry(o, {
      argName: "N",
      decode: (text, name) => {
        const n = /^-?\d+$/.test(text) ? Number(text) : Number.NaN;
        if (!v.is(schema, n)) throw new ArgumentError(`${name}: expected ${expected}, got "${text}"`);
        return n;
      },
      file: schema,
    });
  },

  /** `--name key=value,...` decoded by the spec's schema (keyvalue.ts); the same schema checks files. */
  keyValues<S extends OptionSchema, R extends boolean = false>(
    spec: KeyValueSpec<S>,
    o: Common<R> & {
      /** "an object such as ..." message of the value in files. */
      fileObject?: string;
      deprecated?: readonly DeprecatedForm<v.InferOutput<S>>[];
    },
  ): OptionEntry<v.InferOutput<S>, R> {
    return entry(o, {
      argName: `${spec.firstKey === undefined ? "" : `${spec.firstKey.toUpperCase()}[,`}key=value[,key=value[,...]]${spec.firstKey === undefined ? "" : "]"}`,
      decode: (text, name) => decodeKeyValues({ ...spec, option: name }, text),
      file: fileObject(spec, o.fileObject ?? "an object"),
      keyValues: spec,
      ...(o.deprecated !== undefined ? { deprecated: o.deprecated } : {}),
    });
  },
};

/** Every name a table answers to: each entry's own and its deprecated forms'. */
export interface OptionForm {
  /** The table key. */
  readonly key: string;
  readonly long: string;
  readonly short?: string;
  readonly repeatable: boolean;
  readonly deprecated?: DeprecatedForm<unknown>;
}

export function formsOf(table: OptionTable): OptionForm[] {
  return Object.entries(table).flatMap(([key, e]) => [
    { key, long: key, repeatable: e.repeatable, ...(e.short !== undefined ? { short: e.short } : {}) },
    ...(e.deprecated ?? []).map((d: DeprecatedForm<unknown>) => ({
      key,
      long: d.long,
      repeatable: d.repeatable,
      deprecated: d,
      ...(d.short !== undefined ? { short: d.short } : {}),
    })),
  ]);
}

export function emptyArgs<Table extends OptionTable>(table: Table): ArgsOf<Table> {
  const args: Record<string, unknown> = {};
  for (const [key, e] of Object.entries(table)) args[key] = e.repeatable ? [] : undefined;
  return args as ArgsOf<Table>;
}

/** `later` applied over `base`: single values replaced, lists appended. Neither input is modified. */
export function mergeArgs<Table extends OptionTable>(
  table: Table,
  base: ArgsOf<Table>,
  later: ArgsOf<Table>,
): ArgsOf<Table> {
  const out: Record<string, unknown> = {};
  const b = base as Record<string, unknown>;
  const l = later as Record<string, unknown>;
  for (const [key, e] of Object.entries(table)) {
    if (e.repeatable) out[key] = [...(b[key] as unknown[]), ...(l[key] as unknown[])];
    else out[key] = l[key] !== undefined ? l[key] : b[key];
  }
  return out as ArgsOf<Table>;
}
