// --mem of any size the host allows (issue 13 item 1), through the CLI: a guest with RAM past one 4 GiB view runs,
// and a size past what the guest can address is refused in one line naming --mem and the exact number asked for.
import { expect, test } from "bun:test";
import { guestImage } from "./guest_build.ts";
import { runCrosvm } from "./run_cli.ts";

test("-m 12288 maps 12 GiB of guest RAM (an 8.75 GiB region above 4 GiB) and the guest runs to its reset", async () => {
  const r = await runCrosvm(["run", "-m", "12288", "--bios", await guestImage("hello")]);

  expect({ status: r.status, stdout: r.stdout }).toEqual({ status: 0, stdout: "hello from the guest\n" });
});

test("-m 99999999999 is refused in one line naming --mem, the number as given and the limit", async () => {
  const r = await runCrosvm(["run", "-m", "99999999999", "--bios", await guestImage("hello")]);

  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(
    /^crosvm: --mem 99999999999: expected at most \d+ MiB \(what \d+-bit guest physical addresses leave for RAM here\)\n$/,
  );
});
