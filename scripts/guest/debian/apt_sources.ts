// Which Debian mirror the Debian guest image is built from: the one apt on this machine uses (its
// /etc/apt/sources.list and sources.list.d, one-line and deb822 forms), so the build reaches whatever mirror
// (or proxy) the machine is set up for. Only bookworm entries of Debian's own archives count (URIs ending in
// /debian or /debian-security); other repositories (vendors' apt repos) are left out.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const SUITE = "bookworm";

/** One apt source as a one-line entry: `deb URI SUITE COMPONENTS...`. */
export interface AptSource {
  uri: string;
  suite: string;
  components: string[];
}

/** Entries of a one-line sources.list (`deb [options] URI SUITE COMPONENTS...`); deb-src and comments skipped. */
export function parseOneLine(text: string): AptSource[] {
  const sources: AptSource[] = [];
  for (const raw of text.split("\n")) {
    const line = raw
      .replace(/#.*/, "")
      .replace(/\[[^\]]*\]/, "")
      .trim();
    const [type, uri, suite, ...components] = line.split(/\s+/);
    if (type === "deb" && uri && suite) sources.push({ uri, suite, components });
  }
  return sources;
}

/** Entries of a deb822 .sources file: every Types x URIs x Suites of each paragraph whose Types has deb. */
export function parseDeb822(text: string): AptSource[] {
  const sources: AptSource[] = [];
  const paragraphs = text.split(/\n\s*\n/);
  for (const paragraph of paragraphs) {
    const fields = new Map<string, string>();
    let last = "";
    for (const line of paragraph.split("\n")) {
      if (line.startsWith("#")) continue;
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last)} ${line.trim()}`);
        continue;
      }
      const match = /^([A-Za-z-]+):\s*(.*)$/.exec(line);
      if (!match) continue;
      last = match[1]!.toLowerCase();
      fields.set(last, match[2]!.trim());
    }
    const words = (key: string) => (fields.get(key) ?? "").split(/\s+/).filter((w) => w !== "");
    if (!words("types").includes("deb") || fields.get("enabled")?.toLowerCase() === "no") continue;
    for (const uri of words("uris"))
      for (const suite of words("suites")) sources.push({ uri, suite, components: words("components") });
  }
  return sources;
}

/** Debian's own bookworm archives among `sources` (main only is what the image needs). */
export function debianBookwormSources(sources: readonly AptSource[]): AptSource[] {
  return sources.filter(
    (s) =>
      /\/debian(-security)?\/?$/.test(s.uri) &&
      (s.suite === SUITE || s.suite.startsWith(`${SUITE}-`) || s.suite.startsWith(`${SUITE}/`)) &&
      s.components.includes("main"),
  );
}

/** The `deb URI SUITE main` lines mmdebstrap gets: this machine's Debian mirror, or deb.debian.org without one. */
export function mirrorLines(aptDir = "/etc/apt"): string[] {
  const files = [join(aptDir, "sources.list")];
  const dir = join(aptDir, "sources.list.d");
  if (existsSync(dir)) files.push(...readdirSync(dir).map((f) => join(dir, f)));
  const all = files
    .filter((f) => existsSync(f) && (f.endsWith(".list") || f.endsWith(".sources")))
    .flatMap((f) => (f.endsWith(".sources") ? parseDeb822 : parseOneLine)(readFileSync(f, "utf8")));
  const debian = debianBookwormSources(all);
  const chosen =
    debian.length > 0
      ? debian
      : [
          { uri: "http://deb.debian.org/debian", suite: SUITE, components: ["main"] },
          { uri: "http://deb.debian.org/debian", suite: `${SUITE}-updates`, components: ["main"] },
          { uri: "http://deb.debian.org/debian-security", suite: `${SUITE}-security`, components: ["main"] },
        ];
  return [...new Set(chosen.map((s) => `deb ${s.uri} ${s.suite} main`))];
}
