-- Job control: priority, the request that made the job, and idempotent submits.
ALTER TABLE jobs
  ADD COLUMN priority text NOT NULL DEFAULT 'normal' CHECK (priority IN ('high', 'normal', 'low')),
  ADD COLUMN request_id text;

-- `Idempotency-Key` on POST /generate: the same key and body return the same job.
-- `owner` scopes keys to whoever submitted (an API key later; '' while the API is open).
CREATE TABLE idempotency_keys (
  owner        text NOT NULL DEFAULT '',
  key          text NOT NULL,
  request_hash text NOT NULL,
  job_id       uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (owner, key)
);
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at);
