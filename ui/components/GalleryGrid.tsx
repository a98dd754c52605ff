/**
 * The gallery's justified rows: measures its own width (and follows it as the window changes) and
 * lays the tiles out with `justifyRows`, so every row but the last fills the width exactly, each
 * image keeps its aspect ratio, and there are no holes or empty tiles.
 */
import { useSignal } from "@preact/signals";
import { useLayoutEffect, useMemo, useRef } from "preact/hooks";
import { justifyRows, targetRowHeight, type Tile } from "../state/gallery.ts";
import { GalleryTile } from "./GalleryTile.tsx";
import type { TileActions } from "./tile_actions.ts";

export interface GalleryGridProps {
  tiles: Tile[];
  /** Job ids of the page, in order (the lightbox steps through them). */
  list: string[];
  selected: ReadonlySet<string>;
  positions: ReadonlyMap<string, number>;
  actions: TileActions;
  onSelect(at: number, shift: boolean): void;
  /** Tiles from the top that load at once (above the fold); the rest are lazy. */
  eager?: number;
}

export function GalleryGrid(props: GalleryGridProps) {
  const ref = useRef<HTMLDivElement>(null);
  const width = useSignal(0);

  useLayoutEffect(() => {
    const el = ref.current;
    if (!el) return;
    const measure = () => {
      const w = Math.floor(el.getBoundingClientRect().width);
      if (w !== width.value) width.value = w;
    };
    measure();
    const observer = new ResizeObserver(measure);
    observer.observe(el);
    return () => observer.disconnect();
  }, []);

  const w = width.value;
  const gap = w < 520 ? 4 : 8;
  const rows = useMemo(
    () => justifyRows(props.tiles, { width: w, rowHeight: targetRowHeight(w), gap }),
    [props.tiles, w],
  );
  const selecting = props.selected.size > 0;
  const eager = props.eager ?? 8;

  return (
    <div
      ref={ref}
      class={selecting ? "gallery selecting" : "gallery"}
      style={{ "--gap": `${gap}px` }}
      role="list"
      aria-label="Images"
    >
      {rows.map((row) => (
        <div
          key={props.tiles[row.items[0].index].key}
          class="g-row"
          style={{ height: `${row.height}px` }}
          role="presentation"
        >
          {row.items.map(({ index, width }, i) => {
            const tile = props.tiles[index];
            // Menus open to the right of tiles near the left edge, to the left elsewhere.
            const x = row.items.slice(0, i).reduce((sum, it) => sum + it.width + gap, 0);
            return (
              <div
                key={tile.key}
                role="listitem"
                class={x + width < 240 ? "g-item menu-right" : "g-item"}
                style={{ width: `${width}px` }}
              >
                <GalleryTile
                  tile={tile}
                  at={index}
                  list={props.list}
                  width={width}
                  selected={props.selected.has(tile.job.id)}
                  selecting={selecting}
                  eager={index < eager}
                  position={props.positions.get(tile.job.id)}
                  actions={props.actions}
                  onSelect={props.onSelect}
                />
              </div>
            );
          })}
        </div>
      ))}
    </div>
  );
}
