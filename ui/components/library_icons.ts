/** Paths of the icons only the gallery and the lightbox draw (for `<Icon d={...} />`). */
export const LIBRARY_ICONS = {
  star: "M12 3l2.8 5.7 6.2.9-4.5 4.4 1.1 6.2L12 17.3 6.4 20.2l1.1-6.2L3 9.6l6.2-.9z",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  link: "M10 14a5 5 0 0 0 7 0l3-3a5 5 0 0 0-7-7l-1 1M14 10a5 5 0 0 0-7 0l-3 3a5 5 0 0 0 7 7l1-1",
  variations: "M4 4h7v7H4zM13 13h7v7h-7zM17 4v6M14 7h6M7 14v6M4 17h6",
  seed: "M5 19c9 0 14-5 14-14C10 5 5 10 5 19zM5 19l7-7",
  prompt: "M4 6h16M4 12h10M4 18h7",
  folder: "M3 6h6l2 2h10v11H3zM12 11v5M9.5 13.5h5",
  open: "M14 4h6v6M20 4l-8 8M18 14v6H4V6h6",
  check: "M5 12l5 5L20 7",
} as const;
