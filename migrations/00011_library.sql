-- The library (issue 21): search over all of a key's history, stars and collections ("boards").

-- 1. Search. What a search filters on and never changes once a job is made (its owner, creation
--    time, model and the words of its prompt and negative prompt) in a narrow table of its own,
--    written once, when the job is made: a jobs row is written four to six times on its way to
--    completion and a GIN index on it would take new entries at every one of those writes
--    (migration 00008). A search walks this table newest first, or looks a rare word up in the
--    word index, and reads only the page's jobs. Postgres full-text search with the `simple`
--    configuration (no stemming, no stop words, any language): no extension, so it runs unchanged
--    on PGlite. `owner` is the job's owner_key_id when it was made. No foreign key: checking one
--    locks the job's row for every row written here (a second write of each new job); a statement
--    trigger on DELETE removes a deleted job's row instead.
CREATE TABLE job_search (
  job_id  uuid PRIMARY KEY,
  owner   uuid,
  made_at timestamptz NOT NULL,
  model   text NOT NULL,
  words   tsvector NOT NULL
);
-- New entries wait in the index's pending list and are merged in bulk. A submit that finds the
-- list full merges it itself, inside the request; workers merge it every few seconds instead
-- (gin_clean_pending_list, worker/maintenance.ts), and the larger limit leaves them room.
CREATE INDEX job_search_words_idx ON job_search USING gin (words)
  WITH (gin_pending_list_limit = 16384);
CREATE INDEX job_search_owner_idx ON job_search (owner, made_at DESC, job_id DESC)
  WHERE owner IS NOT NULL;
CREATE INDEX job_search_made_at_idx ON job_search (made_at DESC, job_id DESC);
-- A model filter `owner/name` also matches its versions `owner/name:<version>`.
CREATE INDEX job_search_model_idx ON job_search (split_part(model, ':', 1), made_at DESC, job_id DESC);

-- One statement per INSERT on jobs (a batched submit of 64 jobs adds one INSERT here, not 64).
CREATE FUNCTION darkroom_index_new_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO job_search (job_id, owner, made_at, model, words)
  SELECT id, owner_key_id, created_at, model,
         to_tsvector('simple', prompt || ' ' || coalesce(negative_prompt, ''))
  FROM new_jobs;
  RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_index_new
  AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS new_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION darkroom_index_new_jobs();

CREATE FUNCTION darkroom_unindex_deleted_jobs() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM job_search s USING old_jobs o WHERE s.job_id = o.id;
  RETURN NULL;
END;
$$;

CREATE TRIGGER jobs_unindex_deleted
  AFTER DELETE ON jobs
  REFERENCING OLD TABLE AS old_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION darkroom_unindex_deleted_jobs();

-- The jobs made before this migration.
INSERT INTO job_search (job_id, owner, made_at, model, words)
SELECT id, owner_key_id, created_at, model,
       to_tsvector('simple', prompt || ' ' || coalesce(negative_prompt, ''))
FROM jobs;

-- 2. Stars. Few jobs are starred: a partial index holds only those, newest first.
ALTER TABLE jobs ADD COLUMN starred boolean NOT NULL DEFAULT false;
CREATE INDEX jobs_starred_idx ON jobs (created_at DESC, id DESC) WHERE starred;

-- 3. Collections: named sets of jobs, one list per API key (owner NULL while the API is open).
--    A name is unique per owner, whatever its case.
CREATE TABLE collections (
  id           uuid PRIMARY KEY,
  owner_key_id uuid REFERENCES api_keys (id) ON DELETE CASCADE,
  name         text NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX collections_owner_name_idx ON collections
  (coalesce(owner_key_id, '00000000-0000-0000-0000-000000000000'::uuid), lower(name));

CREATE TABLE collection_jobs (
  collection_id uuid NOT NULL REFERENCES collections (id) ON DELETE CASCADE,
  job_id        uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  added_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (collection_id, job_id)
);
-- A deleted job leaves its collections (the cascade looks it up by job).
CREATE INDEX collection_jobs_job_id_idx ON collection_jobs (job_id);

-- 4. No parallel scans of jobs and job_search. A page is a LIMIT query; in a parallel plan each
--    worker produces rows on its own until it is told to stop, and a search measured at 8 ms
--    alone took 370 ms with two workers (docs/benchmarks.md, "The library's search"). Under
--    load, parallel workers would also take the cores the other requests need.
ALTER TABLE jobs SET (parallel_workers = 0);
ALTER TABLE job_search SET (parallel_workers = 0);
