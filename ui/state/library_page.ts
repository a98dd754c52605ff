/** The page's own dependencies for state/library.ts: its API client, store and toasts. */
import type { LibraryDeps } from "./library.ts";
import { jobsStore } from "./jobs.ts";
import { api, forgetJob } from "./live.ts";
import { showToast } from "./toasts.ts";

export const libraryDeps: LibraryDeps = {
  api,
  store: jobsStore,
  forget: forgetJob,
  notify: (kind, title, body) => void showToast({ kind, title, body }),
};
