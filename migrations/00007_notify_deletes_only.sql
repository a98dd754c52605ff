-- Live updates without a NOTIFY per write: every transaction that calls pg_notify takes one
-- cluster-wide lock at commit, which capped submits at ~2k/s (see docs/benchmarks.md). Changes
-- are now found by polling jobs_updated_at_idx while someone watches; only deletions, which a
-- poll cannot see, are still announced.
DROP TRIGGER jobs_notify_change ON jobs;

CREATE TRIGGER jobs_notify_delete
  AFTER DELETE ON jobs
  FOR EACH ROW EXECUTE FUNCTION darkroom_notify_job_change();
