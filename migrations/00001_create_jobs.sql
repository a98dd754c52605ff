-- Jobs: one row per generation request, from submit to stored images.
CREATE TABLE jobs (
  id                     uuid PRIMARY KEY,
  prompt                 text NOT NULL,
  negative_prompt        text,
  model                  text NOT NULL,
  parameters             jsonb NOT NULL DEFAULT '{}'::jsonb,
  status                 text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'canceled')),
  progress               real NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 100),
  provider               text NOT NULL,
  provider_prediction_id text,
  images                 jsonb NOT NULL DEFAULT '[]'::jsonb,
  error_message          text,
  retry_count            integer NOT NULL DEFAULT 0 CHECK (retry_count >= 0),
  created_at             timestamptz NOT NULL DEFAULT now(),
  started_at             timestamptz,
  completed_at           timestamptz,
  updated_at             timestamptz NOT NULL DEFAULT now()
);

-- Newest-first listing (the history gallery, GET /jobs).
CREATE INDEX jobs_created_at_idx ON jobs (created_at DESC, id DESC);
-- Status + age: filters, the sweepers that look for old pending/processing jobs.
CREATE INDEX jobs_status_created_at_idx ON jobs (status, created_at);

-- Workers write a heartbeat here so health checks and the UI can count them.
CREATE TABLE worker_heartbeats (
  worker_id   text PRIMARY KEY,
  hostname    text NOT NULL,
  pid         integer NOT NULL,
  concurrency integer NOT NULL,
  active      integer NOT NULL DEFAULT 0,
  started_at  timestamptz NOT NULL DEFAULT now(),
  last_seen   timestamptz NOT NULL DEFAULT now()
);
