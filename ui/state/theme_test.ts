import assert from "node:assert/strict";
import { startTheme, systemLight, theme, THEME_KEY, themeChoice, toggleTheme } from "./theme.ts";

Deno.test("theme: dark by default, the system's light only while the user has not chosen", () => {
  themeChoice.value = null;
  systemLight.value = false;
  assert.equal(theme.value, "dark");
  systemLight.value = true;
  assert.equal(theme.value, "light");
  themeChoice.value = "dark";
  assert.equal(theme.value, "dark", "a choice of dark beats a light system");
  systemLight.value = false;
  themeChoice.value = "light";
  assert.equal(theme.value, "light");
  themeChoice.value = null;
});

Deno.test("startTheme: follows the system until a choice is stored, then keeps the choice", () => {
  const stored = new Map<string, string>();
  const listeners: ((e: { matches: boolean }) => void)[] = [];
  const root = { dataset: {} as Record<string, string> };
  const globals = {
    localStorage: {
      getItem: (k: string) => stored.get(k) ?? null,
      setItem: (k: string, v: string) => void stored.set(k, v),
    },
    matchMedia: (query: string) => {
      assert.equal(query, "(prefers-color-scheme: light)");
      return { matches: true, addEventListener: (_: string, f: never) => listeners.push(f) };
    },
    document: { documentElement: root },
  };
  const saved = Object.fromEntries(
    Object.keys(globals).map((k) => [k, Object.getOwnPropertyDescriptor(globalThis, k)]),
  );
  for (const [k, value] of Object.entries(globals)) {
    Object.defineProperty(globalThis, k, { value, configurable: true, writable: true });
  }
  try {
    themeChoice.value = null;
    startTheme();
    assert.equal(root.dataset.theme, "light", "no choice: the light system wins");
    for (const f of listeners) f({ matches: false });
    assert.equal(root.dataset.theme, "dark", "the system switching back is followed");

    toggleTheme();
    assert.equal(root.dataset.theme, "light");
    assert.equal(stored.get(THEME_KEY), "light");
    toggleTheme();
    assert.equal(stored.get(THEME_KEY), "dark");
    for (const f of listeners) f({ matches: true });
    assert.equal(root.dataset.theme, "dark", "a chosen dark stays dark on a light system");
  } finally {
    // Back to the default first: startTheme's effect still writes to the stub document.
    themeChoice.value = null;
    systemLight.value = false;
    for (const [k, d] of Object.entries(saved)) {
      if (d) Object.defineProperty(globalThis, k, d);
      else delete (globalThis as Record<string, unknown>)[k];
    }
  }
});
