/** Switches between the dark and the light theme (remembered). */
import { Icon } from "../components/Icon.tsx";
import { theme, toggleTheme } from "../state/theme.ts";

export interface ThemeToggleProps {
  class?: string;
}

export default function ThemeToggle({ class: cls }: ThemeToggleProps) {
  const dark = theme.value === "dark";
  return (
    <button
      type="button"
      class={`btn btn-icon ${cls ?? ""}`}
      onClick={toggleTheme}
      aria-label={dark ? "Switch to light theme" : "Switch to dark theme"}
      title={dark ? "Light theme" : "Dark theme"}
    >
      <Icon name={dark ? "sun" : "moon"} />
    </button>
  );
}
