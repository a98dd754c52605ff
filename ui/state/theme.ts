/** Theme: dark by default, light when the system prefers it, or what the user picked (persisted). */
import { computed, effect, signal } from "@preact/signals";

export type ThemeChoice = "dark" | "light";

export const THEME_KEY = "darkroom.theme";

/** The user's explicit choice, or null to follow the system. */
export const themeChoice = signal<ThemeChoice | null>(null);
/** True when the system asks for a light theme. */
export const systemLight = signal(false);
/** The theme in effect. */
export const theme = computed<ThemeChoice>(() =>
  themeChoice.value ?? (systemLight.value ? "light" : "dark")
);

/** Reads the stored choice, follows the system setting and applies the theme to <html>. */
export function startTheme(): void {
  try {
    const stored = localStorage.getItem(THEME_KEY);
    if (stored === "dark" || stored === "light") themeChoice.value = stored;
  } catch { /* storage disabled */ }
  const mq = matchMedia("(prefers-color-scheme: light)");
  systemLight.value = mq.matches;
  mq.addEventListener("change", (e) => systemLight.value = e.matches);
  effect(() => {
    document.documentElement.dataset.theme = theme.value;
  });
}

/** Switches to the other theme and remembers it. */
export function toggleTheme(): void {
  const nextTheme: ThemeChoice = theme.value === "dark" ? "light" : "dark";
  themeChoice.value = nextTheme;
  try {
    localStorage.setItem(THEME_KEY, nextTheme);
  } catch { /* storage disabled */ }
}
