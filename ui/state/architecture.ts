/**
 * The Architecture tab's diagram as data: what each box says (from `/stats`) and where boxes,
 * arrows and labels go. Two layouts: `wide`, one row of five columns scaled into the page, and
 * `tall`, one box under the other at the page's own width (phones), so that every box and every
 * figure is on screen and no text is drawn smaller than 12 CSS pixels.
 */
import type { StatsJson } from "../api_client.ts";

export type NodeId = "browser" | "api" | "db" | "queue" | "worker" | "storage" | "provider";
export type EdgeId =
  | "http"
  | "jobs"
  | "enqueue"
  | "serves"
  | "id"
  | "images"
  | "status"
  | "predict";

/** What a box says, before layout. */
export interface NodeContent {
  title: string;
  /** Said after the title when it fits there, else on a line of its own ("embedded"). */
  note?: string;
  /** Groups of short phrases, joined with " · " on as few lines as the box's width allows. */
  parts: string[][];
  warn?: boolean;
}

export interface DiagramContent {
  nodes: Record<NodeId, NodeContent>;
  /** Arrows that show work moving right now. */
  active: Partial<Record<EdgeId, boolean>>;
  /** One sentence for screen readers. */
  summary: string;
  /** True when both the database and the queue are embedded in one process. */
  embedded: boolean;
}

const DASH = "–";

/** "1 job", "2 jobs", "– jobs" (unknown). */
export function countOf(n: number | undefined, one: string, many = `${one}s`): string {
  if (n === undefined) return `${DASH} ${many}`;
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

function num(n: number | undefined): string {
  return n === undefined ? DASH : n.toLocaleString();
}

/** `ready`, `down`, `probing` or `off`: a provider's word in the diagram. */
function providerWord(p: StatsJson["providers"][number]): string {
  if (!p.configured) return "off";
  return p.status === "down" ? "down" : p.status === "probing" ? "probing" : "ready";
}

/** The diagram's words and live figures; `stats` is null until the first answer. */
export function diagramContent(stats: StatsJson | null): DiagramContent {
  const q = stats?.queue;
  const w = stats?.workers;
  // Once stats are loaded a status missing from by_status had no job: it counts 0.
  const byStatus = (status: "completed" | "failed") =>
    stats ? stats.jobs_last_hour.by_status[status] ?? 0 : undefined;
  const kvQueue = q?.backend === "kv";
  const pglite = stats?.database === "pglite";
  const busy = (w?.active ?? 0) > 0;
  // A key that is not an admin key sees its own jobs only; queue and workers stay dashes.
  const own = stats?.scope === "key";
  const nodes: Record<NodeId, NodeContent> = {
    browser: { title: "Browser", parts: [["this page"], ["REST + live events"]] },
    api: { title: "API (Hono)", parts: [["validates", "records", "enqueues"]] },
    db: {
      title: stats ? (pglite ? "PGlite" : "Postgres") : "Database",
      note: pglite ? "embedded" : undefined,
      parts: [
        [`${own ? "your " : ""}${countOf(stats?.jobs_last_hour.total, "job")} / hour`],
        [`${num(byStatus("completed"))} done`, `${num(byStatus("failed"))} failed`],
      ],
    },
    queue: {
      title: q ? (kvQueue ? "Deno KV queue" : "Redis (BullMQ)") : "Queue",
      note: kvQueue ? "embedded" : undefined,
      warn: (q?.failed ?? 0) > 0,
      parts: [
        [`${num(q?.waiting)} waiting`, `${num(q?.active)} active`],
        [`${num(q?.delayed)} delayed`, `${num(q?.failed)} failed`],
      ],
    },
    worker: {
      title: `Workers × ${num(w?.online)}`,
      warn: stats !== null && w?.online === 0,
      parts: [
        [`${num(w?.active)} / ${countOf(w?.capacity, "slot")} busy`],
        [kvQueue ? "in the API process" : "deno task worker"],
      ],
    },
    storage: {
      title: "Storage",
      parts: [["STORAGE_PATH"], [kvQueue && pglite ? "a local folder" : "a shared volume"]],
    },
    provider: {
      title: "Provider",
      // A provider whose circuit is open takes no new predictions (routes use the next one).
      warn: stats?.providers.some((p) => p.configured && p.status === "down") ?? false,
      parts: stats ? stats.providers.map((p) => [`${p.name}: ${providerWord(p)}`]) : [[DASH]],
    },
  };
  const down = stats?.providers.filter((p) => p.configured && p.status === "down") ?? [];
  const summary = !stats
    ? "Live figures are loading."
    : (own
      ? `${countOf(stats.jobs_last_hour.total, "job")} of this key in the last hour; queue and ` +
        `worker figures are for admin keys.`
      : `${countOf(q?.waiting, "job")} waiting and ${num(q?.active)} active in the queue; ` +
        `${countOf(w?.online, "worker")} online; ${countOf(stats.jobs_last_hour.total, "job")} ` +
        `in the last hour.`) +
      (down.length ? ` Provider down: ${down.map((p) => p.name).join(", ")}.` : "");
  return {
    nodes,
    active: { enqueue: (q?.waiting ?? 0) > 0, id: busy, predict: busy, images: busy },
    summary,
    embedded: kvQueue && pglite,
  };
}

// ---- Text measure ----

/** Font sizes in SVG user units (CSS pixels at scale 1). */
export const FONT = { title: 15, line: 13, edge: 12.5 } as const;

/**
 * A generous estimate of a text's width: widths close to DejaVu Sans, the widest of the usual
 * system fonts, so a line that fits here fits everywhere.
 */
export function textWidth(text: string, size: number, bold = false): number {
  let em = 0;
  for (const ch of text) {
    if (" .,:;'|!ijlIt()[]/f".includes(ch)) em += 0.34;
    else if ("mwMW×@%".includes(ch)) em += 0.9;
    else if (/[A-Z]/.test(ch)) em += 0.7;
    else if (/[0-9]/.test(ch)) em += 0.64;
    else em += 0.6;
  }
  return em * size * (bold ? 1.12 : 1);
}

/**
 * Lays phrases out on as few lines as fit in `maxWidth`, joined with " · ". Each group of phrases
 * stays on one line when it can ("1 done · 0 failed"); a group too long for a line is split into
 * its phrases, and a phrase too long for a line wraps by word.
 */
export function packLines(groups: string[][], maxWidth: number, size: number): string[] {
  const lines: string[] = [];
  const fits = (s: string) => textWidth(s, size) <= maxWidth;
  let line = "";
  const add = (text: string, sep: string) => {
    const joined = line ? `${line}${sep}${text}` : text;
    if (fits(joined)) {
      line = joined;
      return true;
    }
    return false;
  };
  for (const group of groups) {
    if (add(group.join(" · "), " · ")) continue;
    if (line) lines.push(line);
    line = "";
    if (add(group.join(" · "), " · ")) continue;
    for (const part of group) {
      if (add(part, " · ")) continue;
      if (line) lines.push(line);
      line = "";
      for (const word of part.split(" ")) {
        if (add(word, " ") || !line) {
          line ||= word;
          continue;
        }
        lines.push(line);
        line = word;
      }
    }
  }
  if (line) lines.push(line);
  return lines;
}

// ---- Layout ----

/** A box, placed: text baselines are relative to the box's top. */
export interface PlacedNode {
  id: NodeId;
  x: number;
  y: number;
  width: number;
  height: number;
  title: string;
  /** Body lines; the first is the note when it did not fit after the title. */
  lines: string[];
  noteLine: boolean;
  warn: boolean;
}

export interface EdgeLabel {
  x: number;
  y: number;
  text: string;
  anchor: "start" | "middle" | "end";
}

export interface PlacedEdge {
  id: EdgeId;
  d: string;
  labels: EdgeLabel[];
  active: boolean;
}

export interface DiagramLayout {
  mode: "wide" | "tall";
  /** The viewBox is `0 0 width height`. */
  width: number;
  height: number;
  /** The largest width to draw it at, in CSS pixels (the SVG shrinks to fit below it). */
  maxWidth: number;
  nodes: PlacedNode[];
  edges: PlacedEdge[];
}

/** Inside a box: left padding, the title's baseline and the body's line height. */
export const BOX = { padX: 12, titleBaseline: 23, lineHeight: 18, padBottom: 12 } as const;
const PAD_X = BOX.padX;

/** Width of the wide layout's viewBox. */
export const WIDE_WIDTH = 1004;
/** The wide layout is used from this width: drawn there, its smallest text is still 12 px. */
export const WIDE_MIN = Math.ceil(WIDE_WIDTH * 12 / Math.min(FONT.edge, FONT.line, FONT.title));
/** The tall layout's viewBox follows the page between these widths. */
export const TALL_MIN = 240;
export const TALL_MAX = 560;

/** Title and body lines of a box of the given inner width. */
function boxText(content: NodeContent, inner: number) {
  const withNote = content.note ? `${content.title} (${content.note})` : content.title;
  const noteFits = !!content.note && textWidth(withNote, FONT.title, true) <= inner;
  const lines = packLines(content.parts, inner, FONT.line);
  if (content.note && !noteFits) lines.unshift(content.note);
  return {
    title: noteFits ? withNote : content.title,
    lines,
    noteLine: !!content.note && !noteFits,
  };
}

function boxHeight(lineCount: number): number {
  return BOX.titleBaseline + lineCount * BOX.lineHeight + BOX.padBottom;
}

function place(
  id: NodeId,
  content: NodeContent,
  box: { x: number; y: number; width: number; height?: number },
): PlacedNode {
  const text = boxText(content, box.width - 2 * PAD_X);
  return {
    id,
    x: box.x,
    y: box.y,
    width: box.width,
    height: box.height ?? boxHeight(text.lines.length),
    ...text,
    warn: !!content.warn,
  };
}

/** Lays the diagram out for a container `width` CSS pixels wide. */
export function layoutDiagram(content: DiagramContent, width: number): DiagramLayout {
  return width >= WIDE_MIN ? wideLayout(content) : tallLayout(content, width);
}

const r = (n: number) => Math.round(n * 10) / 10;

/**
 * Five columns: browser → API → (database above, queue below) → (storage above, workers below)
 * → provider. Rows take the height of their tallest box.
 */
function wideLayout(content: DiagramContent): DiagramLayout {
  const { nodes, active } = content;
  const bw = 164;
  const col = (i: number) => 4 + i * 208;
  const inner = bw - 2 * PAD_X;
  const rowHeight = (ids: NodeId[]) =>
    Math.max(...ids.map((id) => boxHeight(boxText(nodes[id], inner).lines.length)));
  const gapY = 44;
  const topY = 34;
  const topH = rowHeight(["db", "storage"]);
  const midY = topY + topH + gapY;
  const midH = rowHeight(["browser", "api", "provider"]);
  const botY = midY + midH + gapY;
  const botH = rowHeight(["queue", "worker"]);
  const box = (i: number, y: number, height: number) => ({ x: col(i), y, width: bw, height });
  const placed = {
    browser: place("browser", nodes.browser, box(0, midY, midH)),
    api: place("api", nodes.api, box(1, midY, midH)),
    db: place("db", nodes.db, box(2, topY, topH)),
    queue: place("queue", nodes.queue, box(2, botY, botH)),
    storage: place("storage", nodes.storage, box(3, topY, topH)),
    worker: place("worker", nodes.worker, box(3, botY, botH)),
    provider: place("provider", nodes.provider, box(4, midY, midH)),
  };
  const cx = (i: number) => col(i) + bw / 2;
  const midC = midY + midH / 2;
  const gap = (i: number) => col(i) + bw + (208 - bw) / 2; // the gap right of column i
  const diag = (x1: number, y1: number, x2: number, y2: number) => ({
    d: `M${r(x1)} ${r(y1)}L${r(x2)} ${r(y2)}`,
    mx: (x1 + x2) / 2,
    my: (y1 + y2) / 2,
  });
  const jobs = diag(col(1) + bw, midY + 14, col(2) - 2, topY + topH - 14);
  const enqueue = diag(col(1) + bw, midY + midH - 14, col(2) - 2, botY + 14);
  const status = diag(col(3) + 14, botY, col(2) + bw - 14, topY + topH + 2);
  const predict = diag(col(3) + bw, botY + 14, col(4) - 2, midY + midH - 14);
  const edges: PlacedEdge[] = [
    {
      id: "serves",
      d: `M${cx(1)} ${midY}V16H${cx(3)}V${topY - 2}`,
      labels: [{ x: (cx(1) + cx(3)) / 2, y: 11, text: "serves /images", anchor: "middle" }],
      active: false,
    },
    {
      id: "http",
      d: `M${col(0) + bw} ${r(midC)}H${col(1) - 2}`,
      labels: [
        { x: gap(0), y: r(midC - 8), text: "HTTP", anchor: "middle" },
        { x: gap(0), y: r(midC + 19), text: "SSE", anchor: "middle" },
      ],
      active: false,
    },
    {
      id: "jobs",
      d: jobs.d,
      labels: [{ x: r(jobs.mx - 6), y: r(jobs.my), text: "jobs", anchor: "end" }],
      active: false,
    },
    {
      id: "enqueue",
      d: enqueue.d,
      labels: [{ x: r(enqueue.mx - 6), y: r(enqueue.my + 12), text: "enqueue", anchor: "end" }],
      active: !!active.enqueue,
    },
    {
      id: "id",
      d: `M${col(2) + bw} ${r(botY + botH / 2)}H${col(3) - 2}`,
      labels: [{ x: gap(2), y: r(botY + botH / 2 - 8), text: "id", anchor: "middle" }],
      active: !!active.id,
    },
    {
      id: "images",
      d: `M${cx(3)} ${botY}V${topY + topH + 2}`,
      labels: [{ x: cx(3) + 8, y: r(midC + 4), text: "images", anchor: "start" }],
      active: !!active.images,
    },
    {
      id: "status",
      d: status.d,
      labels: [{ x: r(status.mx - 6), y: r(status.my + 14), text: "status", anchor: "end" }],
      active: false,
    },
    {
      id: "predict",
      d: predict.d,
      labels: [{ x: r(predict.mx + 6), y: r(predict.my + 14), text: "predict", anchor: "start" }],
      active: !!active.predict,
    },
  ];
  return {
    mode: "wide",
    width: WIDE_WIDTH,
    height: botY + botH + 6,
    maxWidth: Math.round(WIDE_WIDTH * 1.2),
    nodes: Object.values(placed),
    edges,
  };
}

/**
 * One box under the other, in the order a job travels, at the page's width: arrows between
 * neighbours run down the middle; the API's arrows to the queue and to storage run down a rail
 * on the left, the workers' arrows to the database and to the provider down one on the right.
 */
function tallLayout(content: DiagramContent, containerWidth: number): DiagramLayout {
  const { nodes, active } = content;
  const width = Math.round(Math.min(TALL_MAX, Math.max(TALL_MIN, containerWidth)));
  const railL = 7;
  const railR = width - 7;
  const x = 22;
  const bw = width - 2 * x;
  const gapY = 44;
  const order: NodeId[] = ["browser", "api", "db", "queue", "worker", "storage", "provider"];
  const placed = {} as Record<NodeId, PlacedNode>;
  let y = 2;
  for (const id of order) {
    placed[id] = place(id, nodes[id], { x, y, width: bw });
    y += placed[id].height + gapY;
  }
  const height = y - gapY + 2;
  const cx = width / 2;
  const top = (id: NodeId) => placed[id].y;
  const bottom = (id: NodeId) => placed[id].y + placed[id].height;
  const mid = (id: NodeId) => r(placed[id].y + placed[id].height / 2);
  /** Baseline of a label in the gap below `id`. */
  const below = (id: NodeId) => r(bottom(id) + gapY / 2 + 4.5);
  const down = (from: NodeId, to: NodeId, id: EdgeId, label: string): PlacedEdge => ({
    id,
    d: `M${cx} ${bottom(from)}V${top(to) - 2}`,
    labels: [{ x: cx + 8, y: below(from), text: label, anchor: "start" }],
    active: !!active[id],
  });
  const left = (to: NodeId, id: EdgeId, label: string, under: NodeId): PlacedEdge => ({
    id,
    d: `M${x} ${mid("api")}H${railL}V${mid(to)}H${x - 2}`,
    labels: [{ x: railL + 8, y: below(under), text: label, anchor: "start" }],
    active: !!active[id],
  });
  const right = (to: NodeId, id: EdgeId, label: string, under: NodeId): PlacedEdge => ({
    id,
    d: `M${x + bw} ${mid("worker")}H${railR}V${mid(to)}H${x + bw + 2}`,
    labels: [{ x: railR - 8, y: below(under), text: label, anchor: "end" }],
    active: !!active[id],
  });
  const edges: PlacedEdge[] = [
    down("browser", "api", "http", "HTTP · SSE"),
    down("api", "db", "jobs", "jobs"),
    left("queue", "enqueue", "enqueue", "db"),
    left("storage", "serves", "serves /images", "worker"),
    right("db", "status", "status", "db"),
    down("queue", "worker", "id", "id"),
    down("worker", "storage", "images", "images"),
    right("provider", "predict", "predict", "storage"),
  ];
  return {
    mode: "tall",
    width,
    height: r(height),
    maxWidth: width,
    nodes: order.map((id) => placed[id]),
    edges,
  };
}
