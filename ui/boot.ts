/**
 * Boot: applies the theme, checks the API key and starts the live feed, and mounts each
 * `[data-island]` element with its island (dynamically imported). Islands inside a hidden tab
 * panel, or marked `data-lazy`, are loaded only when first needed, so the first page downloads
 * only what it shows (the key prompt and key status only where the API asks for keys).
 */
import { effect } from "@preact/signals";
import { type ComponentType, render } from "preact";
// The JSX runtime every island uses anyway (rather than `h`): it then shares their chunk.
import { jsx } from "preact/jsx-runtime";
import { droppedImage, startDraftPersistence } from "./state/form.ts";
import { lightbox } from "./state/lightbox.ts";
import { auth, startLive } from "./state/live.ts";
import { startTheme, theme, toggleTheme } from "./state/theme.ts";
import { announcement, toasts } from "./state/toasts.ts";
import { TABS, urlState } from "./state/url.ts";

type IslandModule = { default: ComponentType<Record<string, unknown>> };

/** Every island, by the name used in `data-island` (esbuild needs literal import paths). */
export const ISLANDS: Record<string, () => Promise<IslandModule>> = {
  ArchitectureView: () => import("./islands/ArchitectureView.tsx") as Promise<IslandModule>,
  GenerateForm: () => import("./islands/GenerateForm.tsx") as Promise<IslandModule>,
  HistoryGallery: () => import("./islands/HistoryGallery.tsx") as Promise<IslandModule>,
  KeyPrompt: () => import("./islands/KeyPrompt.tsx") as Promise<IslandModule>,
  KeyStatus: () => import("./islands/KeyStatus.tsx") as Promise<IslandModule>,
  Lightbox: () => import("./islands/Lightbox.tsx") as Promise<IslandModule>,
  RecentJobs: () => import("./islands/RecentJobs.tsx") as Promise<IslandModule>,
  SettingsDrop: () => import("./islands/SettingsDrop.tsx") as Promise<IslandModule>,
  StatusIndicator: () => import("./islands/StatusIndicator.tsx") as Promise<IslandModule>,
  TabBar: () => import("./islands/TabBar.tsx") as Promise<IslandModule>,
  Toaster: () => import("./islands/Toaster.tsx") as Promise<IslandModule>,
  UsageView: () => import("./islands/UsageView.tsx") as Promise<IslandModule>,
};

const mounted = new WeakSet<Element>();

async function mount(el: HTMLElement): Promise<void> {
  if (mounted.has(el)) return;
  mounted.add(el);
  const name = el.dataset.island ?? "";
  const load = ISLANDS[name];
  if (!load) {
    console.error(`Unknown island ${name}`);
    return;
  }
  let props: Record<string, unknown> = {};
  try {
    props = el.dataset.props ? JSON.parse(el.dataset.props) : {};
  } catch {
    console.error(`Island ${name}: data-props is not JSON`);
  }
  try {
    const mod = await load();
    render(jsx(mod.default, props), el);
    el.removeAttribute("aria-busy");
  } catch (err) {
    mounted.delete(el);
    console.error(`Cannot load island ${name}`, err);
  }
}

function islandsIn(root: ParentNode): HTMLElement[] {
  return [...root.querySelectorAll<HTMLElement>("[data-island]")].filter((el) => !el.dataset.lazy);
}

function start(): void {
  startTheme();
  // The header's theme switch (in the page's markup): says what a click does.
  const toggle = document.getElementById("theme-toggle");
  toggle?.addEventListener("click", toggleTheme);
  effect(() => {
    const next = theme.value === "dark" ? "light" : "dark";
    toggle?.setAttribute("aria-label", `Switch to ${next} theme`);
    toggle?.setAttribute("title", `${next[0].toUpperCase()}${next.slice(1)} theme`);
  });
  // Before any island runs, so "reuse settings" from another tab is never overwritten by the load.
  startDraftPersistence();
  startLive();
  // The polite live region is in the page from the start (a region added later is not read).
  const announcer = document.getElementById("announcer");
  effect(() => {
    if (announcer) announcer.textContent = announcement.value;
  });

  const panels = new Map(
    TABS.map((t) => [t, document.querySelector<HTMLElement>(`[data-tab="${t}"]`)]),
  );
  // Islands outside the tab panels (header, toasts) mount at once.
  for (const el of islandsIn(document)) {
    if (!el.closest("[data-tab]")) void mount(el);
  }
  // The visible panel's islands mount now; the others when their tab is first opened.
  effect(() => {
    const tab = urlState.value.tab;
    for (const [name, panel] of panels) {
      if (!panel) continue;
      panel.hidden = name !== tab;
      if (name === tab) { for (const el of islandsIn(panel)) void mount(el); }
    }
  });

  // The lightbox's code is fetched the first time something opens it (or the URL names a job).
  if (urlState.value.job) {
    lightbox.value = { jobId: urlState.value.job, index: 0, list: [urlState.value.job] };
  }
  mountWhen("lightbox", () => !!lightbox.value);
  // The key prompt and the key's name in the header: only once the API asks for a key.
  mountWhen("key", () => auth.session.value.phase === "locked" || !!auth.session.value.key);
  // Toasts: with the first one.
  mountWhen("toasts", () => toasts.value.length > 0);
  // An image dropped on the Generate panel: its settings reader, with the first drop.
  catchDrops(panels.get("generate"));
  mountWhen("drop", () => !!droppedImage.value);
}

/**
 * Files dragged over the Generate panel: the panel shows where to drop (while `dragover` repeats),
 * and a dropped image goes to `droppedImage`. A drop something inside took already (an image
 * input of the form) is left alone.
 */
function catchDrops(panel: HTMLElement | null | undefined): void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const files = (e: DragEvent) =>
    panel && !panel.hidden && !e.defaultPrevented && panel.contains(e.target as Node) &&
    e.dataTransfer?.types.includes("Files");
  document.addEventListener("dragover", (e) => {
    if (!files(e)) return;
    e.preventDefault();
    panel!.classList.add("drop-target");
    clearTimeout(timer);
    timer = setTimeout(() => panel!.classList.remove("drop-target"), 200);
  });
  document.addEventListener("drop", (e) => {
    panel?.classList.remove("drop-target");
    if (!files(e)) return;
    e.preventDefault();
    droppedImage.value = e.dataTransfer!.files[0] ?? null;
  });
}

/** Mounts the `[data-lazy=name]` islands the first time `needed()` is true. */
function mountWhen(name: string, needed: () => boolean): void {
  const els = [...document.querySelectorAll<HTMLElement>(`[data-lazy="${name}"]`)];
  effect(() => {
    if (needed()) { for (const el of els) void mount(el); }
  });
}

start();
