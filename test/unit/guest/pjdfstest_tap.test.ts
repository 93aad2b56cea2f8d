import { describe, expect, test } from "bun:test";
import { fileFailed, parseRunOutput, summarize } from "../../../scripts/pjdfstest/tap.ts";

describe("pjdfstest TAP counting", () => {
  test("ok and not ok lines are counted for the file named by the header before them", () => {
    const text = "### chmod/00.t\n1..3\nok 1\nnot ok 2 - tried 'chmod x 0644', expected 0, got EPERM\nok 3\n";

    const [file] = parseRunOutput(text);

    expect(file).toEqual({
      name: "chmod/00.t",
      planned: 3,
      ok: 2,
      notOk: 1,
      todo: 0,
      failures: ["not ok 2 - tried 'chmod x 0644', expected 0, got EPERM"],
    });
  });

  test("a not ok with a TODO directive counts as todo, not as a failure", () => {
    const [file] = parseRunOutput("### link/00.t\n1..2\nok 1\nnot ok 2 # TODO known on Linux\n");

    expect([file!.notOk, file!.todo, fileFailed(file!)]).toEqual([0, 1, false]);
  });

  test("each header starts a new file", () => {
    const files = parseRunOutput("### a/00.t\n1..1\nok 1\n### a/01.t\n1..2\nok 1\nok 2\n");

    expect(files.map((f) => [f.name, f.ok])).toEqual([
      ["a/00.t", 1],
      ["a/01.t", 2],
    ]);
  });

  test("a file that printed fewer results than its plan fails", () => {
    const [file] = parseRunOutput("### rename/00.t\n1..5\nok 1\nok 2\n");

    expect(fileFailed(file!)).toBe(true);
  });

  test("a file that printed no plan fails", () => {
    const [file] = parseRunOutput("### open/00.t\n");

    expect(fileFailed(file!)).toBe(true);
  });

  test("lines before the first header are ignored", () => {
    const files = parseRunOutput("ok 1\nnot ok 2\n### a/00.t\n1..1\nok 1\n");

    expect(summarize(files)).toMatchObject({ ok: 1, notOk: 0 });
  });

  test("the summary adds up cases over files and lists the failing ones", () => {
    const files = parseRunOutput(
      "### a/00.t\n1..2\nok 1\nok 2\n### a/01.t\n1..3\nok 1\nnot ok 2 - x\n### a/02.t\n1..1\nnot ok 1 # TODO y\n",
    );

    expect(summarize(files)).toEqual({
      files: 3,
      ok: 3,
      notOk: 1,
      todo: 1,
      missing: 1,
      failingFiles: ["a/01.t"],
    });
  });
});
