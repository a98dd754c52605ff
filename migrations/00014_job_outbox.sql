-- The submit path's outbox: accepted jobs that are not on the queue yet (Redis away).
--
-- A submit stores the job and queues it at once. When the queue refuses (or is known to be
-- away), the job is kept here instead, in the statement that stores it (or right after a refused
-- enqueue), and the client still hears 202: the job is in Postgres, which is what "accepted"
-- means. A dispatcher in every process (shared/jobs/dispatcher.ts) moves these rows onto the queue
-- as soon as it answers; the queue deduplicates by job id, so a job is queued once however many
-- dispatchers run. The table is empty while the queue is up: the hot path never writes to it.
CREATE TABLE job_outbox (
  job_id     uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
  request_id text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX job_outbox_created_at_idx ON job_outbox (created_at);

-- New rows wake the dispatchers of every process (they also sweep, in case a notification is
-- lost). One notification per statement: a group commit of many jobs sends one.
CREATE FUNCTION darkroom_notify_outbox() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('darkroom_outbox', TG_TABLE_SCHEMA);
  RETURN NULL;
END;
$$;

CREATE TRIGGER job_outbox_notify
  AFTER INSERT ON job_outbox
  FOR EACH STATEMENT
  EXECUTE FUNCTION darkroom_notify_outbox();
