/**
 * A tile's "More actions" menu: open, download, reuse (all or the prompt), variations, copy the
 * seed or a link, star, retry or cancel, and delete, which asks first. A menu button with a
 * `role="menu"` list: arrows move, Esc or a click outside closes, focus returns to the button.
 */
import { signal } from "@preact/signals";
import { useLayoutEffect, useRef } from "preact/hooks";
import type { Tile } from "../state/gallery.ts";
import { openLightbox } from "../state/lightbox.ts";
import { seedOf } from "../state/library.ts";
import { Icon, type IconName } from "./Icon.tsx";
import { LIBRARY_ICONS } from "./library_icons.ts";
import type { TileActions } from "./tile_actions.ts";

/** The tile whose menu is open (one at a time), and whether it is asking to delete. */
export const openMenu = signal<{ key: string; confirming: boolean } | null>(null);

export interface TileMenuProps {
  tile: Tile;
  list: string[];
  actions: TileActions;
}

interface Item {
  label: string;
  icon?: IconName;
  d?: string;
  run?: () => void;
  href?: string;
  download?: string;
  danger?: boolean;
  disabled?: boolean;
}

export function TileMenu({ tile, list, actions }: TileMenuProps) {
  const { job, img, index } = tile;
  const state = openMenu.value;
  const open = state?.key === tile.key;
  const confirming = open && state.confirming;
  const buttonRef = useRef<HTMLButtonElement>(null);
  const menuRef = useRef<HTMLDivElement>(null);

  const close = (refocus: boolean) => {
    openMenu.value = null;
    if (refocus) buttonRef.current?.focus();
  };

  // A layout effect: the focus is in the menu in the same frame the menu appears.
  useLayoutEffect(() => {
    if (!open) return;
    // The first item; when asking to delete, the safe answer ("Keep").
    menuRef.current?.querySelector<HTMLElement>("[role=menuitem], .tile-keep")?.focus();
    const outside = (e: PointerEvent) => {
      const t = e.target as Node;
      if (!menuRef.current?.contains(t) && !buttonRef.current?.contains(t)) close(false);
    };
    document.addEventListener("pointerdown", outside, true);
    return () => document.removeEventListener("pointerdown", outside, true);
  }, [open, confirming]);

  const seed = seedOf(job);
  const a = job.actions;
  const items: Item[] = [
    { label: "Open", d: LIBRARY_ICONS.open, run: () => openLightbox(job.id, index, list) },
    ...(img
      ? [{
        label: "Download",
        icon: "download" as const,
        href: img.url,
        download: actions.fileName(job, index),
      }]
      : []),
    { label: "Reuse all settings", icon: "reuse", run: () => actions.reuse(job) },
    { label: "Reuse prompt only", d: LIBRARY_ICONS.prompt, run: () => actions.reusePrompt(job) },
    {
      label: "Variations (new seed)",
      d: LIBRARY_ICONS.variations,
      run: () => actions.variations(job),
    },
    {
      label: seed === null ? "No seed recorded" : `Copy seed ${seed}`,
      d: LIBRARY_ICONS.seed,
      run: () => actions.copySeed(job),
      disabled: seed === null,
    },
    { label: "Copy link", d: LIBRARY_ICONS.link, run: () => actions.copyLink(job) },
    ...(job.starred !== undefined
      ? [{
        label: job.starred ? "Unstar" : "Star",
        d: LIBRARY_ICONS.star,
        run: () => actions.star(job, !job.starred),
      }]
      : []),
    ...(a?.retry
      ? [{ label: "Retry", icon: "retry" as const, run: () => actions.retry(job) }]
      : []),
    ...(a?.cancel
      ? [{ label: "Cancel", icon: "stop" as const, run: () => actions.cancel(job) }]
      : []),
    ...(a?.delete !== false
      ? [{
        label: "Delete…",
        icon: "trash" as const,
        danger: true,
        run: () => openMenu.value = { key: tile.key, confirming: true },
      }]
      : []),
  ];

  const onKeyDown = (e: KeyboardEvent) => {
    if (e.key === "Escape" || e.key === "Tab") {
      if (e.key === "Escape") e.preventDefault();
      e.stopPropagation();
      close(e.key === "Escape");
      return;
    }
    if (confirming || !["ArrowDown", "ArrowUp", "Home", "End"].includes(e.key)) return;
    e.preventDefault();
    const els = [
      ...(menuRef.current?.querySelectorAll<HTMLElement>("[role=menuitem]:not([aria-disabled])") ??
        []),
    ];
    const i = els.indexOf(document.activeElement as HTMLElement);
    const to = e.key === "Home"
      ? 0
      : e.key === "End"
      ? els.length - 1
      : (i + (e.key === "ArrowDown" ? 1 : -1) + els.length) % els.length;
    els[to]?.focus();
  };

  const n = job.images.length;
  return (
    <>
      <button
        ref={buttonRef}
        type="button"
        class="tile-btn tile-more"
        aria-haspopup="menu"
        aria-expanded={open}
        aria-label="More actions"
        title="More actions"
        onClick={() => open ? close(false) : openMenu.value = { key: tile.key, confirming: false }}
      >
        <Icon d={LIBRARY_ICONS.more} size={18} />
      </button>
      {open && (
        <div
          ref={menuRef}
          class="tile-menu"
          role={confirming ? "group" : "menu"}
          aria-label={confirming ? "Confirm delete" : "More actions"}
          onKeyDown={onKeyDown}
        >
          {confirming
            ? (
              <div class="tile-confirm">
                <p>
                  Delete this job{n > 1 ? ` and its ${n} images` : n ? " and its image" : ""}?
                </p>
                <button
                  type="button"
                  class="btn btn-small btn-danger"
                  onClick={() => {
                    close(false);
                    actions.remove(job);
                  }}
                >
                  <Icon name="trash" size={14} /> Yes, delete
                </button>
                <button type="button" class="btn btn-small tile-keep" onClick={() => close(true)}>
                  Keep
                </button>
              </div>
            )
            : items.map((item) => {
              const body = (
                <>
                  <Icon name={item.icon} d={item.d} size={16} />
                  {item.label}
                </>
              );
              const cls = `tile-menu-item${item.danger ? " danger" : ""}`;
              return item.href
                ? (
                  <a
                    key={item.label}
                    role="menuitem"
                    class={cls}
                    href={item.href}
                    download={item.download}
                    tabIndex={-1}
                    onClick={() => close(true)}
                  >
                    {body}
                  </a>
                )
                : (
                  <button
                    key={item.label}
                    type="button"
                    role="menuitem"
                    class={cls}
                    tabIndex={-1}
                    aria-disabled={item.disabled || undefined}
                    onClick={() => {
                      if (item.disabled) return;
                      if (!item.danger) close(true);
                      item.run?.();
                    }}
                  >
                    {body}
                  </button>
                );
            })}
        </div>
      )}
    </>
  );
}
