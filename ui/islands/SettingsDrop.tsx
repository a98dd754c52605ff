/**
 * An image dropped on the Generate form: reads the settings inside it (Darkroom's own chunk,
 * AUTOMATIC1111's `parameters`, ComfyUI's graph) and offers "Use these settings" or only the
 * prompt. Loaded with the first drop (boot.ts catches it).
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import type { JobJson } from "../api_client.ts";
import { Icon } from "../components/Icon.tsx";
import { truncate } from "../state/format.ts";
import {
  draft,
  draftFromJob,
  droppedImage,
  fieldErrors,
  focusPromptRequest,
} from "../state/form.ts";
import { models } from "../state/live.ts";
import { type ImageSettings, readImageSettings } from "../state/png_settings.ts";
import { announce } from "../state/toasts.ts";

export interface SettingsDropProps {
  /** Largest file read (bytes); settings sit near the start of a PNG, but some put them last. */
  maxBytes?: number;
}

const SOURCES: Record<ImageSettings["source"], string> = {
  darkroom: "Darkroom",
  a1111: "AUTOMATIC1111",
  comfyui: "ComfyUI",
};

/** What the offer says about the settings: `Seed 42`, `Steps 30`, `Size 832×1216`... */
function settingsLines(s: ImageSettings): [string, string][] {
  const p = s.parameters;
  const lines: [string, string][] = [];
  if (s.negative_prompt) lines.push(["Negative prompt", truncate(s.negative_prompt, 120)]);
  if (s.model) lines.push(["Model", s.model]);
  if (p.width && p.height) lines.push(["Size", `${p.width} × ${p.height}`]);
  for (
    const [k, label] of [["seed", "Seed"], ["num_inference_steps", "Steps"], [
      "guidance_scale",
      "Guidance",
    ]]
  ) {
    if (p[k] !== undefined) lines.push([label, String(p[k])]);
  }
  const others = Object.keys(p).filter((k) =>
    !["width", "height", "seed", "num_inference_steps", "guidance_scale"].includes(k)
  );
  if (others.length) lines.push(["Also", others.join(", ")]);
  return lines;
}

/** The model to use: the image's when this Darkroom offers it (or takes any), else none. */
function usableModel(name: string | null): string | null {
  const m = models.value;
  if (!name || !m) return null;
  if (m.models.some((x) => x.id === name)) return name;
  return m.custom_models && /^[a-z0-9][\w.-]*\/[\w.-]+(:[0-9a-f]{64})?$/.test(name) ? name : null;
}

type Found =
  | { state: "reading"; name: string }
  | { state: "none"; name: string }
  | { state: "found"; name: string; settings: ImageSettings; model: string | null };

export default function SettingsDrop({ maxBytes = 64 * 1024 * 1024 }: SettingsDropProps) {
  const found = useSignal<Found | null>(null);
  const ref = useRef<HTMLDivElement>(null);
  const file = droppedImage.value;

  useEffect(() => {
    if (!file) return;
    droppedImage.value = null;
    found.value = { state: "reading", name: file.name };
    (async () => {
      const bytes = file.size <= maxBytes ? new Uint8Array(await file.arrayBuffer()) : null;
      const settings = bytes ? await readImageSettings(bytes) : null;
      found.value = settings
        ? { state: "found", name: file.name, settings, model: usableModel(settings.model) }
        : { state: "none", name: file.name };
      announce(settings ? `Settings found in ${file.name}` : `No settings found in ${file.name}`);
    })().catch(() => found.value = { state: "none", name: file.name });
  }, [file]);

  useEffect(() => {
    if (found.value?.state === "reading") return;
    const el = ref.current;
    el?.scrollIntoView({ block: "nearest" });
    el?.querySelector<HTMLElement>(".btn-primary, .btn")?.focus();
  }, [found.value?.state]);

  const f = found.value;
  if (!f) return null;
  const close = () => found.value = null;

  const use = (all: boolean) => {
    if (f.state !== "found") return;
    const s = f.settings;
    if (all) {
      const job = {
        prompt: s.prompt,
        negative_prompt: s.negative_prompt,
        model: f.model ?? draft.value.model,
        parameters: s.parameters,
      } as JobJson;
      draft.value = draftFromJob(job, draft.value);
    } else {
      draft.value = { ...draft.value, prompt: s.prompt, negativePrompt: s.negative_prompt ?? "" };
    }
    fieldErrors.value = {};
    close();
    focusPromptRequest.value++;
    announce(all ? "The image's settings are in the form" : "The image's prompt is in the form");
  };

  return (
    <div
      ref={ref}
      class="drop-offer"
      role="region"
      aria-label="Settings from a dropped image"
      onKeyDown={(e) => {
        if (e.key === "Escape") close();
      }}
    >
      {f.state === "reading" && <p>Reading {f.name}…</p>}
      {f.state === "none" && (
        <>
          <p>
            <Icon name="image" /> No settings found in <strong>{f.name}</strong>{" "}
            (Darkroom, AUTOMATIC1111 and ComfyUI PNGs carry them).
          </p>
          <div class="drop-actions">
            <button type="button" class="btn btn-small" onClick={close}>OK</button>
          </div>
        </>
      )}
      {f.state === "found" && (
        <>
          <p class="drop-title">
            <Icon name="reuse" /> Settings found in <strong>{f.name}</strong>
            <span class="muted">· {SOURCES[f.settings.source]}</span>
          </p>
          <p class="drop-prompt">{truncate(f.settings.prompt, 400) || "(no prompt)"}</p>
          <dl class="kvs">
            {settingsLines(f.settings).map(([k, v]) => (
              <div class="kv" key={k}>
                <dt>{k}</dt>
                <dd>
                  <span class="kv-value">{v}</span>
                </dd>
              </div>
            ))}
          </dl>
          {f.settings.model && !f.model && (
            <p class="hint">
              {f.settings.model} is not a model here: the form keeps{" "}
              {draft.value.model || "its model"}.
            </p>
          )}
          <div class="drop-actions">
            <button type="button" class="btn btn-primary btn-small" onClick={() => use(true)}>
              Use these settings
            </button>
            <button type="button" class="btn btn-small" onClick={() => use(false)}>
              Use the prompt only
            </button>
            <button type="button" class="btn btn-small btn-quiet" onClick={close}>
              Dismiss
            </button>
          </div>
        </>
      )}
    </div>
  );
}
