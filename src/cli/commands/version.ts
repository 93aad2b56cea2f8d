// `crosvm version`: prints "crosvm VERSION" (crosvm main.rs `pkg_version`).
import pkg from "../../../package.json" with { type: "json" };
import { writeOut } from "../output.ts";
import { defineCrosvmCommand } from "./command.ts";

export const versionCommand = defineCrosvmCommand({
  meta: { name: "version", description: "Show package version." },
  async run() {
    await writeOut(`crosvm ${pkg.version}\n`);
  },
});
