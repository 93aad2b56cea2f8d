// Draws a --trace-file JSON (src/base/trace_events.ts) as an SVG timeline: the README's picture of one boot
// (docs/boot-trace.svg; scripts/boot_trace.ts records the boot). This is our own drawing, not Perfetto's: this
// project's machines cannot reach ui.perfetto.dev, and Debian's chromium has no chrome://tracing viewer.
// One row per track, in this order: the VMM's start-up phases, each vCPU's exit slices, each device queue's
// request slices, each device process, control-socket requests (a track is a thread of the trace and one
// category; a thread with events of several categories gets one row for each). Under them a time axis in
// time since the VMM process started (the trace's origin). A complete event ("X") is a bar at ts, dur wide (at
// least MIN_BAR_PX, so a very short one still shows); an instant event ("i") is a triangle. The exit and request
// slices are at most 50 ms long, a pixel or two at a boot's scale, so their darkness says how busy they were: the
// opacity grows with the slice's count (exits, or requests) relative to the busiest slice of its row. Every bar
// has a <title> with its name, times and args, which a browser shows on hover.
// Usage: bun scripts/trace_picture.ts TRACE.json OUT.svg [TITLE]
import { readFileSync, writeFileSync } from "node:fs";
import * as v from "valibot";

const eventSchema = v.object({
  name: v.string(),
  cat: v.string(),
  ph: v.string(),
  ts: v.pipe(v.number(), v.finite(), v.minValue(0)),
  dur: v.optional(v.pipe(v.number(), v.finite(), v.minValue(0))),
  pid: v.number(),
  tid: v.number(),
  args: v.optional(v.record(v.string(), v.unknown())),
});
const traceSchema = v.object({ traceEvents: v.array(eventSchema) });

export type TraceEvent = v.InferOutput<typeof eventSchema>;

/** The events of a trace-event JSON (the "JSON Object Format"); one line naming the file if it is not one. */
export function parseTrace(text: string, source: string): TraceEvent[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON: ${(e as Error).message}`);
  }
  const result = v.safeParse(traceSchema, json);
  if (!result.success) {
    const issue = result.issues[0];
    const where = v.getDotPath(issue) ?? "the top level";
    throw new Error(
      `${source}: expected a trace-event JSON ({"traceEvents": [{name, cat, ph, ts, pid, tid}, ...]}); at ${where}: ${issue.message}`,
    );
  }
  return result.output.traceEvents;
}

/** The row order (the categories src/ writes); other categories follow, by name. */
export const CATEGORY_ORDER = ["startup", "vcpu", "queue", "device", "control"] as const;

export interface Mark {
  readonly name: string;
  readonly ph: "X" | "i";
  /** µs since the trace's origin. */
  readonly ts: number;
  readonly dur: number;
  /** The slice's count (exits or requests) where it has one. */
  readonly count?: number;
  readonly args?: Readonly<Record<string, unknown>>;
}

export interface Track {
  readonly label: string;
  readonly cat: string;
  readonly marks: readonly Mark[];
}

/** A vCPU slice's exits (args.exits: label -> count) or a queue slice's requests. */
function countOf(e: TraceEvent): number | undefined {
  const args = e.args ?? {};
  if (typeof args.requests === "number") return args.requests;
  const exits = args.exits;
  if (exits && typeof exits === "object")
    return Object.values(exits).reduce<number>((n, c) => n + (typeof c === "number" ? c : 0), 0);
  return undefined;
}

const rank = (cat: string) => {
  const i = (CATEGORY_ORDER as readonly string[]).indexOf(cat);
  return i < 0 ? CATEGORY_ORDER.length : i;
};

/** The trace's tracks, ordered as the picture shows them; metadata events only name the threads. */
export function tracksOf(events: readonly TraceEvent[]): Track[] {
  const threadNames = new Map<string, string>();
  for (const e of events)
    if (e.ph === "M" && e.name === "thread_name" && typeof e.args?.name === "string")
      threadNames.set(`${e.pid}:${e.tid}`, e.args.name);
  const groups = new Map<string, { pid: number; tid: number; cat: string; marks: Mark[] }>();
  const catsOfThread = new Map<string, Set<string>>();
  for (const e of events) {
    if (e.ph !== "X" && e.ph !== "i") continue;
    const thread = `${e.pid}:${e.tid}`;
    const key = `${thread}:${e.cat}`;
    let group = groups.get(key);
    if (!group) groups.set(key, (group = { pid: e.pid, tid: e.tid, cat: e.cat, marks: [] }));
    if (!catsOfThread.has(thread)) catsOfThread.set(thread, new Set());
    catsOfThread.get(thread)!.add(e.cat);
    const count = countOf(e);
    group.marks.push({
      name: e.name,
      ph: e.ph,
      ts: e.ts,
      dur: e.ph === "X" ? (e.dur ?? 0) : 0,
      ...(count !== undefined ? { count } : {}),
      ...(e.args ? { args: e.args } : {}),
    });
  }
  return [...groups.values()]
    .sort((a, b) => rank(a.cat) - rank(b.cat) || a.cat.localeCompare(b.cat) || a.tid - b.tid || a.pid - b.pid)
    .map((g) => {
      const thread = `${g.pid}:${g.tid}`;
      const name = threadNames.get(thread) ?? `thread ${g.tid}`;
      const label = catsOfThread.get(thread)!.size > 1 ? `${name}: ${g.cat}` : name;
      return { label, cat: g.cat, marks: g.marks.sort((a, b) => a.ts - b.ts) };
    });
}

export const MIN_BAR_PX = 1;
const LABEL_PX = 230;
const ROW_PX = 22;
const BAR_PX = 16;
const TOP_PX = 34;
const AXIS_PX = 46;
const FONT_PX = 11;
/** A rough width of one character of the 11 px sans-serif font, to decide whether a name fits in its bar. */
const CHAR_PX = 6.2;

const LEGEND =
  "A bar is a span of the trace (at least 1 px wide); the darker an exit or request slice, the more exits or " +
  "requests it counts against the busiest of its row; a triangle is an instant (a device process's exit). Hover for " +
  "each event's name, times and args.";

export interface Bar {
  readonly x: number;
  readonly width: number;
  readonly opacity: number;
  readonly mark: Mark;
}

export interface Row {
  readonly label: string;
  readonly cat: string;
  readonly y: number;
  readonly bars: readonly Bar[];
}

export interface Layout {
  readonly width: number;
  readonly height: number;
  /** Where time 0 is, and pixels per µs. */
  readonly left: number;
  readonly pxPerUs: number;
  readonly rows: readonly Row[];
  readonly ticks: readonly { x: number; label: string }[];
}

/** 1, 2 or 5 times a power of ten: the tick step for about `target` µs. */
export function niceStep(target: number): number {
  const power = 10 ** Math.floor(Math.log10(target));
  return [1, 2, 5, 10].map((m) => m * power).find((s) => s >= target) ?? 10 * power;
}

const tickLabel = (us: number, stepUs: number) =>
  stepUs >= 100_000 ? `${+(us / 1e6).toFixed(1)} s` : `${+(us / 1e3).toFixed(1)} ms`;

/** Positions every track's marks on a `width`-pixel picture whose time axis runs from 0 to the trace's end. */
export function layout(tracks: readonly Track[], width: number): Layout {
  // Reductions, not Math.max(...list): a trace holds up to a million events (MAX_EVENTS), too many arguments.
  const endUs = tracks.reduce((end, t) => t.marks.reduce((e, m) => Math.max(e, m.ts + m.dur), end), 1);
  const left = LABEL_PX;
  const plotPx = width - left - 20;
  const pxPerUs = plotPx / endUs;
  const rows = tracks.map((t, i) => {
    const busiest = t.marks.reduce((most, m) => Math.max(most, m.count ?? 0), 0);
    return {
      label: t.label,
      cat: t.cat,
      y: TOP_PX + i * ROW_PX,
      bars: t.marks.map((mark) => ({
        x: left + mark.ts * pxPerUs,
        width: Math.max(MIN_BAR_PX, mark.dur * pxPerUs),
        opacity: mark.count !== undefined && busiest > 0 ? 0.15 + (0.85 * mark.count) / busiest : 0.85,
        mark,
      })),
    };
  });
  const stepUs = niceStep(endUs / 10);
  const ticks = [];
  for (let us = 0; us <= endUs; us += stepUs)
    ticks.push({ x: left + us * pxPerUs, label: tickLabel(us, stepUs) });
  return { width, height: TOP_PX + tracks.length * ROW_PX + AXIS_PX, left, pxPerUs, rows, ticks };
}

/** Text for SVG element content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!,
  );
}

const COLOURS: Record<string, string> = {
  startup: "#3b7dd8",
  vcpu: "#d9822b",
  queue: "#2e9e5b",
  device: "#8e5cc2",
  control: "#c43c4b",
};
const colourOf = (cat: string) => COLOURS[cat] ?? "#777777";
const ms = (us: number) => `${+(us / 1000).toFixed(3)} ms`;
const px = (n: number) => +n.toFixed(2);

function tooltip(m: Mark): string {
  const time = m.ph === "X" ? `at ${ms(m.ts)} for ${ms(m.dur)}` : `at ${ms(m.ts)}`;
  return `${m.name}, ${time}${m.args ? ` ${JSON.stringify(m.args)}` : ""}`;
}

function barSvg(bar: Bar, row: Row): string {
  const m = bar.mark;
  const title = `<title>${escapeXml(tooltip(m))}</title>`;
  const fill = colourOf(row.cat);
  if (m.ph === "i") {
    const y = row.y + (ROW_PX - BAR_PX) / 2;
    return `<path d="M${px(bar.x)} ${y + BAR_PX}l-4 -${BAR_PX}h8z" fill="${fill}">${title}</path>`;
  }
  const y = row.y + (ROW_PX - BAR_PX) / 2;
  // A thin white edge keeps back-to-back spans (the start-up phases) apart where there is room for it.
  const edge = bar.width >= 3 ? ` stroke="#fff" stroke-width="0.5"` : "";
  const rect = `<rect x="${px(bar.x)}" y="${y}" width="${px(bar.width)}" height="${BAR_PX}" fill="${fill}" fill-opacity="${+bar.opacity.toFixed(2)}"${edge}>${title}</rect>`;
  // Counted slices are named by their count ("12 exits"), which their darkness already shows.
  if (m.count !== undefined || bar.width < m.name.length * CHAR_PX + 6) return rect;
  const text = `<text x="${px(bar.x + 3)}" y="${y + BAR_PX - 4}" fill="#fff">${escapeXml(m.name)}</text>`;
  return rect + text;
}

/** The picture as an SVG document. */
export function renderSvg(l: Layout, title: string): string {
  const bottom = l.height - AXIS_PX;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${l.width}" height="${l.height}" viewBox="0 0 ${l.width} ${l.height}" font-family="sans-serif" font-size="${FONT_PX}">`,
    `<rect width="${l.width}" height="${l.height}" fill="#fff"/>`,
    `<text x="8" y="20" font-size="13" font-weight="bold">${escapeXml(title)}</text>`,
    ...l.ticks.map(
      (t) =>
        `<line x1="${px(t.x)}" y1="${TOP_PX}" x2="${px(t.x)}" y2="${bottom + 4}" stroke="#ddd"/>` +
        `<text x="${px(t.x)}" y="${bottom + 16}" text-anchor="middle" fill="#444">${escapeXml(t.label)}</text>`,
    ),
    ...l.rows.map(
      (r, i) =>
        (i % 2 === 0
          ? `<rect x="0" y="${r.y}" width="${l.width}" height="${ROW_PX}" fill="#000" fill-opacity="0.03"/>`
          : "") +
        `<text x="8" y="${r.y + ROW_PX / 2 + 4}" fill="#222">${escapeXml(r.label)}</text>` +
        r.bars.map((b) => barSvg(b, r)).join(""),
    ),
    `<line x1="${l.left}" y1="${bottom}" x2="${l.width - 20}" y2="${bottom}" stroke="#888"/>`,
    `<text x="8" y="${bottom + 16}" fill="#444">time since the VMM started</text>`,
    `<text x="8" y="${l.height - 8}" fill="#666">${escapeXml(LEGEND)}</text>`,
    `</svg>`,
  ];
  return parts.join("\n") + "\n";
}

if (import.meta.main) {
  const [input, output, title = "crosvm --trace-file"] = process.argv.slice(2);
  if (!input || !output) {
    console.error("usage: bun scripts/trace_picture.ts TRACE.json OUT.svg [TITLE]");
    process.exit(2);
  }
  try {
    const tracks = tracksOf(parseTrace(readFileSync(input, "utf8"), input));
    if (tracks.length === 0) throw new Error(`${input}: no complete or instant events to draw`);
    writeFileSync(output, renderSvg(layout(tracks, 1400), title));
    console.log(`${output}: ${tracks.length} tracks`);
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
