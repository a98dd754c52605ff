/**
 * Toasts (bottom corner). Loaded with the first toast; the polite aria-live region for status
 * changes is in the page itself (boot.ts fills it), so it is there before anything is announced.
 */
import { Icon } from "../components/Icon.tsx";
import { openLightbox } from "../state/lightbox.ts";
import { dismissToast, toasts } from "../state/toasts.ts";

export interface ToasterProps {
  label?: string;
}

export default function Toaster({ label = "Notifications" }: ToasterProps) {
  return (
    <section class="toasts" aria-label={label}>
      {toasts.value.map((t) => (
        <div
          key={t.id}
          class={`toast toast-${t.kind}`}
          role={t.kind === "error" ? "alert" : undefined}
        >
          <Icon
            name={t.kind === "error" ? "alert" : t.kind === "success" ? "check" : "sparkles"}
          />
          <div class="toast-text">
            <strong>{t.title}</strong>
            {t.body && <span>{t.body}</span>}
          </div>
          {t.jobId && (
            <button
              type="button"
              class="btn btn-small"
              onClick={() => {
                dismissToast(t.id);
                openLightbox(t.jobId!);
              }}
            >
              View
            </button>
          )}
          <button
            type="button"
            class="btn btn-icon btn-small"
            aria-label="Dismiss"
            onClick={() => dismissToast(t.id)}
          >
            <Icon name="x" size={14} />
          </button>
        </div>
      ))}
    </section>
  );
}
