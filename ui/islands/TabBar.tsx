/** The tablist: Generate / History / Architecture / Usage, keyboard-operable, state in the URL. */
import { Icon, type IconName } from "../components/Icon.tsx";
import { jobsStore } from "../state/jobs.ts";
import { navigate, type Tab, urlState } from "../state/url.ts";

export interface TabBarProps {
  /** Accessible name of the tablist. */
  label?: string;
}

const TAB_INFO: { id: Tab; label: string; icon: IconName }[] = [
  { id: "generate", label: "Generate", icon: "sparkles" },
  { id: "history", label: "History", icon: "grid" },
  { id: "architecture", label: "Architecture", icon: "diagram" },
  { id: "usage", label: "Usage", icon: "chart" },
];

export default function TabBar({ label = "Sections" }: TabBarProps) {
  const active = urlState.value.tab;
  const running = jobsStore.running.value.length;

  const select = (tab: Tab, focus: boolean) => {
    if (tab !== urlState.value.tab) navigate({ tab }, { push: true });
    if (focus) document.getElementById(`tab-${tab}`)?.focus();
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const i = TAB_INFO.findIndex((t) => t.id === active);
    const last = TAB_INFO.length - 1;
    const to = e.key === "ArrowRight"
      ? (i === last ? 0 : i + 1)
      : e.key === "ArrowLeft"
      ? (i === 0 ? last : i - 1)
      : e.key === "Home"
      ? 0
      : e.key === "End"
      ? last
      : -1;
    if (to < 0) return;
    e.preventDefault();
    select(TAB_INFO[to].id, true);
  };

  return (
    <div class="tabs" role="tablist" aria-label={label} onKeyDown={onKeyDown}>
      {TAB_INFO.map((t) => (
        <button
          key={t.id}
          id={`tab-${t.id}`}
          type="button"
          role="tab"
          class="tab"
          aria-selected={t.id === active}
          aria-controls={`panel-${t.id}`}
          tabIndex={t.id === active ? 0 : -1}
          onClick={() => select(t.id, false)}
        >
          <Icon name={t.icon} size={16} />
          <span class="tab-label">{t.label}</span>
          {t.id === "history" && running > 0 && (
            <span class="count" aria-label={`${running} running`}>{running}</span>
          )}
        </button>
      ))}
    </div>
  );
}
