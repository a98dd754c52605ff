/**
 * "This Darkroom needs an API key": a modal dialog opened while the API asks for a key. The key is
 * checked with `GET /me` before it is kept (in this browser only); Esc closes the dialog and the
 * header offers it again. Loaded only when a key is needed.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { Icon } from "../components/Icon.tsx";
import { keyPromptDismissed, lockMessage } from "../state/auth.ts";
import { auth } from "../state/live.ts";
import { announce } from "../state/toasts.ts";

export interface KeyPromptProps {
  /** The dialog's heading. */
  title?: string;
}

export default function KeyPrompt({ title = "This Darkroom needs an API key" }: KeyPromptProps) {
  const dialogRef = useRef<HTMLDialogElement>(null);
  const inputRef = useRef<HTMLInputElement>(null);
  const error = useSignal<string | null>(null);
  const busy = useSignal(false);
  const s = auth.session.value;
  const remember = useSignal(s.remember);
  const locked = s.phase === "locked";
  const open = locked && !keyPromptDismissed.value;

  // A new lock (another refusal, a sign-out) shows the prompt again, with a fresh message.
  useEffect(() => {
    if (!locked) return;
    keyPromptDismissed.value = false;
    error.value = null;
    remember.value = s.remember;
  }, [s.epoch]);

  useEffect(() => {
    const dialog = dialogRef.current;
    if (!dialog) return;
    if (open && !dialog.open) {
      dialog.showModal();
      inputRef.current?.focus();
    } else if (!open && dialog.open) {
      dialog.close();
    }
  }, [open]);

  const onSubmit = async (e: Event) => {
    e.preventDefault(); // never a navigation: the key must not reach the URL
    const input = inputRef.current;
    if (!input || busy.value) return;
    busy.value = true;
    error.value = null;
    const problem = await auth.submit(input.value, remember.value);
    busy.value = false;
    if (problem) {
      error.value = problem;
      input.focus();
      input.select();
      return;
    }
    input.value = ""; // the secret does not stay in the page
    const name = auth.session.value.key?.name;
    announce(name ? `Signed in with the key “${name}”` : "Signed in");
  };

  const notice = error.value ?? lockMessage(s.reason);
  return (
    <dialog
      ref={dialogRef}
      class="key-dialog"
      aria-labelledby="key-title"
      aria-describedby="key-desc"
      onClose={() => {
        // Closed by Esc while still locked: remember that, so the header can reopen it.
        if (auth.session.value.phase === "locked") keyPromptDismissed.value = true;
      }}
    >
      <form method="dialog" class="key-form" onSubmit={onSubmit} noValidate>
        <h2 id="key-title" class="key-title">
          <Icon name="key" /> {title}
        </h2>
        <p id="key-desc" class="key-desc">
          Jobs and images here belong to API keys. Paste yours to continue. Whoever runs this server
          creates keys with <code>deno task keys create --name NAME</code>; each key is shown once.
        </p>
        {notice && (
          <p
            id="key-error"
            class={error.value ? "form-error" : "notice-inline"}
            role={error.value ? "alert" : "status"}
          >
            <Icon name="alert" size={16} /> {notice}
          </p>
        )}
        <div class="field">
          <label for="key-input" class="label">API key</label>
          <input
            ref={inputRef}
            id="key-input"
            name="api_key"
            type="password"
            autoComplete="off"
            autoCapitalize="off"
            spellcheck={false}
            placeholder="dr_…"
            aria-invalid={error.value ? true : undefined}
            aria-describedby={notice ? "key-error key-hint" : "key-hint"}
            onInput={() => error.value = null}
          />
          <p id="key-hint" class="hint">
            Kept only in this browser and sent to this server with each request.
          </p>
        </div>
        <label class="check" for="key-remember">
          <input
            id="key-remember"
            type="checkbox"
            checked={remember.value}
            onChange={(e) => remember.value = e.currentTarget.checked}
            aria-describedby="key-remember-hint"
          />
          Remember on this device
        </label>
        <p id="key-remember-hint" class="hint">
          {remember.value
            ? "Kept until you sign out, also after the browser restarts."
            : "Forgotten when this tab closes."}
        </p>
        <div class="key-actions">
          <button type="submit" class="btn btn-primary" disabled={busy.value}>
            {busy.value ? "Checking…" : "Use this key"}
          </button>
        </div>
      </form>
    </dialog>
  );
}
