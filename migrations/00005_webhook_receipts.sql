-- Incoming provider webhooks: one row per delivery id (`webhook-id`), so a retried or replayed
-- delivery is recognised and ignored. Rows are only needed for as long as a sender may retry;
-- prune old ones by received_at.
CREATE TABLE webhook_receipts (
  webhook_id  text PRIMARY KEY,
  received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_receipts_received_at_idx ON webhook_receipts (received_at);

-- A webhook names its prediction: find the processing job that waits on it without scanning
-- the job history. Partial, so it holds only the jobs in flight.
CREATE INDEX jobs_processing_prediction_idx ON jobs (provider_prediction_id)
  WHERE status = 'processing';
