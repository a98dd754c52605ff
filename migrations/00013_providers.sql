-- A second provider (fal.ai) and model routes (aliases with ordered targets, failover).
--
-- jobs.provider (since 00001) now says who holds the job's prediction: for a job on a route it
-- is the first target's provider until a target accepts the request, then the one that did.
--   provider_model           the model as its provider knows it (`owner/name`, `fal:<endpoint>`):
--                            what actually served the job; null while a route has not placed
--                            it yet (older rows: null, read as `model`)
--   route                    the alias the job was submitted with, or null
--   provider_queue_position  the job's place in the provider's own queue while it waits there
--                            (fal's IN_QUEUE), else null
ALTER TABLE jobs
  ADD COLUMN provider_model text,
  ADD COLUMN route text,
  ADD COLUMN provider_queue_position integer;

-- Each worker's circuit breakers, one row per provider, written on every change of state and
-- refreshed with the heartbeat: /health, /ready, /stats and darkroom_provider_up read the most
-- recent change among the live workers. A worker removes its rows when it stops.
CREATE TABLE provider_health (
  worker_id            text NOT NULL,
  provider             text NOT NULL,
  state                text NOT NULL CHECK (state IN ('closed', 'open', 'half_open')),
  consecutive_failures integer NOT NULL DEFAULT 0,
  last_error           text,
  changed_at           timestamptz NOT NULL DEFAULT now(),
  seen_at              timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (worker_id, provider)
);
