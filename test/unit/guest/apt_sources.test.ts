import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  debianBookwormSources,
  mirrorLines,
  parseDeb822,
  parseOneLine,
} from "../../../scripts/guest/debian/apt_sources.ts";

const deb822 = `Types: deb
# http://snapshot.debian.org/archive/debian/20250520T000000Z
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
`;

describe("apt sources of the machine", () => {
  test("a deb822 paragraph gives one source per URI and suite", () => {
    const sources = parseDeb822(deb822);

    expect(sources).toEqual([
      { uri: "http://deb.debian.org/debian", suite: "bookworm", components: ["main"] },
      { uri: "http://deb.debian.org/debian", suite: "bookworm-updates", components: ["main"] },
      { uri: "http://deb.debian.org/debian-security", suite: "bookworm-security", components: ["main"] },
    ]);
  });

  test("deb822 paragraphs with Enabled: no or only deb-src are left out", () => {
    const text =
      "Types: deb-src\nURIs: http://a/debian\nSuites: bookworm\nComponents: main\n\n" +
      "Types: deb\nEnabled: no\nURIs: http://b/debian\nSuites: bookworm\nComponents: main\n";

    expect(parseDeb822(text)).toEqual([]);
  });

  test("one-line entries keep deb lines, without options and comments", () => {
    const text =
      "# deb http://x/debian bookworm main\ndeb-src http://y/debian bookworm main\n" +
      "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian bookworm main contrib # local\n";

    expect(parseOneLine(text)).toEqual([
      { uri: "http://mirror.example/debian", suite: "bookworm", components: ["main", "contrib"] },
    ]);
  });

  test("only Debian's own bookworm archives with main are kept", () => {
    const sources = [
      { uri: "https://packages.cloud.google.com/apt", suite: "cloud-sdk-bookworm", components: ["main"] },
      { uri: "https://deb.nodesource.com/node_20.x", suite: "nodistro", components: ["main"] },
      { uri: "http://deb.debian.org/debian", suite: "trixie", components: ["main"] },
      { uri: "http://mirror.example/debian/", suite: "bookworm", components: ["main"] },
    ];

    expect(debianBookwormSources(sources)).toEqual([sources[3]!]);
  });

  test("mirrorLines reads sources.list.d and gives mmdebstrap one-line entries", () => {
    const dir = mkdtempSync(join(tmpdir(), "apt-sources-"));
    mkdirSync(join(dir, "sources.list.d"));
    writeFileSync(join(dir, "sources.list.d/debian.sources"), deb822);
    writeFileSync(join(dir, "sources.list.d/vendor.list"), "deb https://vendor.example/apt stable main\n");

    expect(mirrorLines(dir)).toEqual([
      "deb http://deb.debian.org/debian bookworm main",
      "deb http://deb.debian.org/debian bookworm-updates main",
      "deb http://deb.debian.org/debian-security bookworm-security main",
    ]);
  });

  test("without a Debian entry, mirrorLines falls back to deb.debian.org", () => {
    const dir = mkdtempSync(join(tmpdir(), "apt-sources-"));

    expect(mirrorLines(dir)[0]).toBe("deb http://deb.debian.org/debian bookworm main");
  });
});
