/**
 * An image input: a drop zone (drop a file, paste one, or press it to choose one), the upload's
 * preview while it is sent and after, and a button to remove it. Lists of images take several.
 */
import { useSignal } from "@preact/signals";
import { useEffect, useRef } from "preact/hooks";
import { draft, fieldErrors, setInputs } from "../../state/form.ts";
import { formatBytes } from "../../state/format.ts";
import { api } from "../../state/live.ts";
import { inputDomId, type LeafField } from "../../state/schema_form.ts";
import {
  addImage,
  IMAGE_TYPES,
  knownPreview,
  loadPreview,
  pendingUploads,
  uploadDetails,
} from "../../state/uploads.ts";
import { announce } from "../../state/toasts.ts";
import { Icon } from "../Icon.tsx";
import { clearError, FieldFrame, helpId, invalid } from "./Shell.tsx";

type ImageDesc = Extract<LeafField, { kind: "image" }>;

/** The values of an image input: none, one, or a list. */
function refsOf(field: ImageDesc, value: unknown): string[] {
  if (field.many) return Array.isArray(value) ? value.filter((v) => typeof v === "string") : [];
  return typeof value === "string" && value ? [value] : [];
}

/** One chosen image: its preview (or its URL when it cannot be shown here) and Remove. */
function Chosen(props: { value: string; label: string; onRemove: () => void }) {
  const url = useSignal(knownPreview(props.value));
  const problem = useSignal("");
  useEffect(() => {
    if (url.value) return;
    loadPreview(props.value, api).then(
      (u) => url.value = u,
      () =>
        problem.value = "This upload is gone (uploads expire): remove it and add the image again",
    );
  }, [props.value]);
  const info = uploadDetails(props.value);
  return (
    <li class="img-in">
      {url.value
        ? <img src={url.value} alt={`${props.label}: the chosen image`} />
        : (
          <span class="img-in-ph">
            <Icon name="image" size={22} />
          </span>
        )}
      <span class="img-in-meta">
        {info
          ? `${info.width ?? "?"}×${info.height ?? "?"} · ${formatBytes(info.bytes)}`
          : problem.value || (url.value ? "Uploaded image" : props.value)}
      </span>
      <button
        type="button"
        class="btn btn-icon btn-small"
        aria-label={`Remove this image from ${props.label}`}
        title="Remove"
        onClick={props.onRemove}
      >
        <Icon name="x" size={16} />
      </button>
    </li>
  );
}

/** An image field of the model's form. */
export function ImageField({ field }: { field: ImageDesc }) {
  const id = inputDomId(field.name);
  const key = `parameters.${field.name}` as const;
  const refs = refsOf(field, draft.value.inputs[field.name]);
  const pending = pendingUploads.value[field.name] ?? [];
  const over = useSignal(false);
  const fileRef = useRef<HTMLInputElement>(null);

  const store = (refsNow: string[]) =>
    setInputs({ [field.name]: field.many ? (refsNow.length ? refsNow : undefined) : refsNow[0] });
  const take = (files: File[]) => {
    const chosen = field.many ? files : files.slice(0, 1);
    if (!chosen.length) return;
    clearError(key);
    for (const file of chosen) {
      void addImage(field.name, file, {
        api,
        onUploaded: (url) => {
          const now = refsOf(field, draft.value.inputs[field.name]);
          store(field.many ? [...now, url] : [url]);
          announce(`${field.label}: image uploaded`);
        },
        onError: (message) => {
          fieldErrors.value = { ...fieldErrors.value, [key]: message };
          announce(message);
        },
      });
    }
  };
  const remove = (ref: string) => {
    store(refs.filter((r) => r !== ref));
    clearError(key);
    queueMicrotask(() => document.getElementById(id)?.focus());
  };
  const showZone = field.many || (refs.length === 0 && pending.length === 0);
  const help = helpId(id, field.description);

  return (
    <FieldFrame
      id={id}
      label={field.label}
      required={field.required}
      description={field.description}
      error={key}
      group
      wide
    >
      {(refs.length > 0 || pending.length > 0) && (
        <ul class="imgs-in" aria-label={`${field.label}: chosen images`}>
          {refs.map((r) => (
            <Chosen
              key={r}
              value={r}
              label={field.label}
              onRemove={() => remove(r)}
            />
          ))}
          {pending.map((p) => (
            <li key={p.key} class="img-in uploading" aria-busy="true">
              <img src={p.preview} alt={`${field.label}: ${p.name}, uploading`} />
              <span class="img-in-meta">Uploading {p.name}…</span>
            </li>
          ))}
        </ul>
      )}
      {showZone && (
        <div
          id={id}
          class={over.value ? "dropzone over" : "dropzone"}
          role="button"
          tabIndex={0}
          data-field={field.name}
          aria-labelledby={`${id}-label ${id}-zone`}
          {...invalid(key, help)}
          onClick={() => fileRef.current?.click()}
          onKeyDown={(e) => {
            if (e.key === "Enter" || e.key === " ") {
              e.preventDefault();
              fileRef.current?.click();
            }
          }}
          onDragOver={(e) => {
            e.preventDefault();
            if (e.dataTransfer) e.dataTransfer.dropEffect = "copy";
            over.value = true;
          }}
          onDragLeave={() => over.value = false}
          onDrop={(e) => {
            e.preventDefault();
            over.value = false;
            take([...(e.dataTransfer?.files ?? [])]);
          }}
          onPaste={(e) => {
            const files = [...(e.clipboardData?.files ?? [])];
            if (!files.length) return;
            e.preventDefault();
            take(files);
          }}
        >
          <Icon name="image" size={22} />
          <span id={`${id}-zone`}>
            {field.required && <span class="sr-only">(required)</span>}
            Drop {field.many && refs.length ? "more images" : "an image"}, paste, or{" "}
            <span class="link">choose a file</span>
          </span>
          <span class="hint">PNG, JPEG, WebP or GIF</span>
        </div>
      )}
      <input
        ref={fileRef}
        type="file"
        class="sr-only"
        tabIndex={-1}
        aria-hidden="true"
        accept={IMAGE_TYPES.join(",")}
        multiple={field.many}
        onChange={(e) => {
          take([...(e.currentTarget.files ?? [])]);
          e.currentTarget.value = "";
        }}
      />
    </FieldFrame>
  );
}
