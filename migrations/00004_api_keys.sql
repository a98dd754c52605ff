-- API keys: shown once at creation, stored only as a SHA-256 hash. Each job belongs to the key
-- that made it; an admin key sees every job.
CREATE TABLE api_keys (
  id             uuid PRIMARY KEY,
  name           text NOT NULL,
  prefix         text NOT NULL,
  key_hash       text NOT NULL UNIQUE,
  is_admin       boolean NOT NULL DEFAULT false,
  webhook_secret text NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  last_used_at   timestamptz,
  revoked_at     timestamptz
);

ALTER TABLE jobs ADD COLUMN owner_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL;
CREATE INDEX jobs_owner_created_at_idx ON jobs (owner_key_id, created_at DESC);
