/**
 * Header: the name of the API key in use with a "Sign out" button (which asks first: a key is
 * shown only once when made), or "Enter API key" while one is needed. Loaded only with API keys.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { Icon } from "../components/Icon.tsx";
import { keyPromptDismissed } from "../state/auth.ts";
import { auth } from "../state/live.ts";

export interface KeyStatusProps {
  class?: string;
}

export default function KeyStatus({ class: cls }: KeyStatusProps) {
  const asking = useSignal(false);
  const keepRef = useRef<HTMLButtonElement>(null);
  const outRef = useRef<HTMLButtonElement>(null);
  const s = auth.session.value;

  useEffect(() => {
    if (asking.value) keepRef.current?.focus();
  }, [asking.value]);

  if (s.phase === "locked") {
    return (
      <button
        type="button"
        class={`btn btn-small ${cls ?? ""}`}
        onClick={() => keyPromptDismissed.value = false}
      >
        <Icon name="key" size={14} /> Enter API key
      </button>
    );
  }
  const key = s.key;
  if (!key) return null;

  const keep = () => {
    asking.value = false;
    queueMicrotask(() => outRef.current?.focus());
  };

  return (
    <span
      class={`key-status ${cls ?? ""}`}
      role={asking.value ? "group" : undefined}
      aria-label={asking.value ? "Confirm sign out" : undefined}
      onKeyDown={(e) => {
        if (asking.value && e.key === "Escape") keep();
      }}
    >
      {asking.value
        ? (
          <>
            <span class="confirm-text">Forget this key on this device?</span>
            <button
              type="button"
              class="btn btn-small btn-danger"
              onClick={() => {
                asking.value = false;
                auth.signOut();
              }}
            >
              Forget key
            </button>
            <button ref={keepRef} type="button" class="btn btn-small" onClick={keep}>
              Keep
            </button>
          </>
        )
        : (
          <>
            <span
              class="key-name"
              title={`Signed in with the API key “${key.name}” (${key.prefix}…)${
                key.admin ? ", admin" : ""
              }`}
            >
              <Icon name="key" size={14} />
              <span class="sr-only">API key:</span>
              <span class="key-label">{key.name}</span>
              {key.admin && <span class="tag">admin</span>}
            </span>
            <button
              ref={outRef}
              type="button"
              class="btn btn-small"
              title="Forget the key on this device"
              onClick={() => asking.value = true}
            >
              Sign out
            </button>
          </>
        )}
    </span>
  );
}
