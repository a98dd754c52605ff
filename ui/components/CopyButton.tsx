/** A button that copies text and says so for a moment. */
import { useSignal } from "@preact/signals";
import { announce } from "../state/toasts.ts";
import { Icon } from "./Icon.tsx";

export interface CopyButtonProps {
  text: string;
  label: string;
  /** Show the label next to the icon (otherwise it is the accessible name only). */
  showLabel?: boolean;
}

/** Copies with the Clipboard API, falling back to a hidden textarea on insecure origins. */
export async function copyText(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.className = "sr-only";
    document.body.append(ta);
    ta.select();
    let ok = false;
    try {
      ok = document.execCommand("copy");
    } catch { /* unsupported */ }
    ta.remove();
    return ok;
  }
}

export function CopyButton({ text, label, showLabel }: CopyButtonProps) {
  const done = useSignal(false);
  return (
    <button
      type="button"
      class={showLabel ? "btn btn-small" : "btn btn-icon btn-small"}
      aria-label={showLabel ? undefined : label}
      title={label}
      onClick={async () => {
        const ok = await copyText(text);
        announce(ok ? "Copied to the clipboard" : "Cannot copy: select the text instead");
        done.value = ok;
        if (ok) setTimeout(() => done.value = false, 1500);
      }}
    >
      <Icon name={done.value ? "check" : "copy"} size={14} />
      {showLabel && <span>{done.value ? "Copied" : label}</span>}
    </button>
  );
}
