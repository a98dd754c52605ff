-- Outgoing webhooks: a job may name a URL that hears about its terminal states. A trigger
-- records one delivery per terminal transition, whoever made it (worker, cancel, retention);
-- workers send pending deliveries with retries and keep the outcome for inspection.
ALTER TABLE jobs
  ADD COLUMN webhook_url text,
  ADD COLUMN webhook_events text[];

CREATE TABLE webhook_deliveries (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id          uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  event           text NOT NULL,
  url             text NOT NULL,
  state           text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  last_status     integer,
  last_error      text,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  created_at      timestamptz NOT NULL DEFAULT now(),
  delivered_at    timestamptz
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at)
  WHERE state = 'pending';
CREATE INDEX webhook_deliveries_job_idx ON webhook_deliveries (job_id, created_at);

CREATE FUNCTION darkroom_queue_job_webhook() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.webhook_url IS NOT NULL
     AND NEW.status IN ('completed', 'failed', 'canceled')
     AND OLD.status IS DISTINCT FROM NEW.status
     AND (NEW.webhook_events IS NULL OR NEW.status = ANY (NEW.webhook_events)) THEN
    INSERT INTO webhook_deliveries (job_id, event, url) VALUES (NEW.id, NEW.status, NEW.webhook_url);
  END IF;
  RETURN NEW;
END;
$$;

CREATE TRIGGER jobs_queue_webhook
  AFTER UPDATE OF status ON jobs
  FOR EACH ROW EXECUTE FUNCTION darkroom_queue_job_webhook();
