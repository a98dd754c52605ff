-- Live updates: every change to a job is announced on the `darkroom_jobs` channel, whoever made
-- it (API, worker, a manual UPDATE). API processes LISTEN and fan the snapshots out over SSE.
-- The payload is small; listeners read the row itself.
CREATE INDEX jobs_updated_at_idx ON jobs (updated_at);

CREATE FUNCTION darkroom_notify_job_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('darkroom_jobs',
      json_build_object('id', OLD.id, 'op', 'delete', 'schema', TG_TABLE_SCHEMA)::text);
    RETURN OLD;
  END IF;
  PERFORM pg_notify('darkroom_jobs',
    json_build_object('id', NEW.id, 'op', lower(TG_OP), 'schema', TG_TABLE_SCHEMA)::text);
  RETURN NEW;
END;
$$;

CREATE TRIGGER jobs_notify_change
  AFTER INSERT OR UPDATE OR DELETE ON jobs
  FOR EACH ROW EXECUTE FUNCTION darkroom_notify_job_change();
