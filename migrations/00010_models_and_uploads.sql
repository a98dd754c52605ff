-- Model input schemas, fetched from the provider once per version and kept (issue 20).
CREATE TABLE model_versions (
  model           text NOT NULL,
  version         text NOT NULL,
  provider        text NOT NULL,
  title           text NOT NULL,
  description     text,
  cover_image_url text,
  input_schema    jsonb NOT NULL,
  fetched_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (model, version)
);

-- Which version `owner/name` meant when the provider was last asked; asked again after a TTL.
CREATE TABLE model_latest (
  model      text PRIMARY KEY,
  version    text NOT NULL,
  checked_at timestamptz NOT NULL DEFAULT now()
);

-- Images sent to POST /uploads, for image inputs. The file lives in the image storage (as
-- `upload-<id>.<ext>`); the row expires unless a job uses it.
CREATE TABLE uploads (
  id           uuid PRIMARY KEY,
  owner_key_id uuid REFERENCES api_keys (id) ON DELETE SET NULL,
  file         text NOT NULL,
  content_type text NOT NULL,
  width        integer,
  height       integer,
  bytes        bigint NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX uploads_expires_at_idx ON uploads (expires_at);

-- Which jobs use which uploads: an upload a job uses does not expire.
CREATE TABLE job_uploads (
  job_id    uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  upload_id uuid NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
  PRIMARY KEY (job_id, upload_id)
);
CREATE INDEX job_uploads_upload_id_idx ON job_uploads (upload_id);

-- Deleting a job (by the API or by retention) releases the uploads only it used: they expire at
-- once, and the workers' maintenance removes their files.
CREATE FUNCTION darkroom_release_upload() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE uploads SET expires_at = LEAST(expires_at, now())
   WHERE id = OLD.upload_id
     AND NOT EXISTS (SELECT 1 FROM job_uploads WHERE upload_id = OLD.upload_id);
  RETURN NULL;
END
$$;

CREATE TRIGGER job_uploads_release
  AFTER DELETE ON job_uploads
  FOR EACH ROW EXECUTE FUNCTION darkroom_release_upload();

-- Secrets the service makes for itself: the key that signs upload URLs for providers, shared by
-- every API and worker through the database (UPLOAD_URL_SECRET overrides it).
CREATE TABLE service_secrets (
  name  text PRIMARY KEY,
  value text NOT NULL
);
INSERT INTO service_secrets (name, value)
VALUES ('upload_url', replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', ''));
