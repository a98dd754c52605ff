-- Spend: what each job cost, monthly budgets per API key that refuse before money is spent, and
-- budget warnings sent as outgoing webhooks (docs: README, "Spend").
--
-- 1. Per job: predictions made, the provider's predict time (summed over them), the estimated
--    cost (NULL until known), the estimate held against its key's budget while the job runs, the
--    month that pays for it, and the fingerprint of a `"dedupe": true` request.
ALTER TABLE jobs
  ADD COLUMN predictions    integer NOT NULL DEFAULT 0,
  ADD COLUMN predict_time_s double precision,
  ADD COLUMN cost_usd       numeric(14, 6),
  ADD COLUMN reserved_usd   numeric(14, 6) NOT NULL DEFAULT 0,
  ADD COLUMN spend_month    date,
  ADD COLUMN dedupe_hash    text;

-- A deduplicated submit looks for a completed twin of the same owner in the window.
CREATE INDEX jobs_dedupe_idx ON jobs (dedupe_hash, completed_at DESC)
  WHERE dedupe_hash IS NOT NULL AND status = 'completed';

-- 2. Per key: a monthly budget (calendar month, UTC; NULL = none), the shares of it at which a
--    `budget.warning` is sent, and where to send it (signed with the key's webhook secret).
ALTER TABLE api_keys
  ADD COLUMN budget_usd  numeric(14, 6) CHECK (budget_usd IS NULL OR budget_usd >= 0),
  ADD COLUMN warn_at     numeric[] NOT NULL DEFAULT '{0.8,1}',
  ADD COLUMN webhook_url text;

-- What each key spent and holds in reserve per month. Kept by the triggers below, in the same
-- transaction as the job write that changes it: the reservation of a submit and its budget check
-- are one locked row update, so concurrent submits can never take a key over its budget.
CREATE TABLE key_spend (
  key_id       uuid NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
  month        date NOT NULL,
  spent_usd    numeric(14, 6) NOT NULL DEFAULT 0,
  reserved_usd numeric(14, 6) NOT NULL DEFAULT 0,
  -- The highest warn_at share already announced this month.
  warned_at    numeric NOT NULL DEFAULT 0,
  updated_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (key_id, month)
);

-- 3. Outgoing webhooks about a key rather than a job (budget.warning): the body is `payload`.
ALTER TABLE webhook_deliveries
  ALTER COLUMN job_id DROP NOT NULL,
  ADD COLUMN key_id uuid REFERENCES api_keys (id) ON DELETE CASCADE,
  ADD COLUMN payload jsonb;

-- Adds spend and reservation changes to a key's month. A reservation (p_reserved > 0) that would
-- take spent + reserved over the key's budget raises SQLSTATE DR402 (the API answers 402) and the
-- whole statement that caused it is undone. Crossing a warn_at share of the budget records one
-- budget.warning delivery when the key has a webhook_url.
CREATE FUNCTION darkroom_key_spend(p_key uuid, p_month date, p_spent numeric, p_reserved numeric)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  s record;
  k record;
  level numeric;
BEGIN
  INSERT INTO key_spend AS ks (key_id, month, spent_usd, reserved_usd)
  VALUES (p_key, p_month, p_spent, greatest(p_reserved, 0))
  ON CONFLICT (key_id, month) DO UPDATE
    SET spent_usd = ks.spent_usd + excluded.spent_usd,
        reserved_usd = greatest(0, ks.reserved_usd + p_reserved),
        updated_at = now()
  RETURNING ks.spent_usd, ks.reserved_usd, ks.warned_at INTO s;
  SELECT id, name, prefix, budget_usd, warn_at, webhook_url INTO k FROM api_keys WHERE id = p_key;
  IF k.budget_usd IS NULL THEN
    RETURN;
  END IF;
  IF p_reserved > 0 AND s.spent_usd + s.reserved_usd > k.budget_usd THEN
    RAISE EXCEPTION USING
      ERRCODE = 'DR402',
      MESSAGE = 'budget_exceeded',
      DETAIL = json_build_object(
        'budget_usd', k.budget_usd,
        'spent_usd', s.spent_usd,
        'reserved_usd', s.reserved_usd - p_reserved,
        'estimate_usd', p_reserved,
        'month', to_char(p_month, 'YYYY-MM'))::text;
  END IF;
  IF p_spent > 0 AND k.budget_usd > 0 THEN
    SELECT max(t) INTO level FROM unnest(k.warn_at) AS t
    WHERE t > s.warned_at AND s.spent_usd >= t * k.budget_usd;
    IF level IS NOT NULL THEN
      UPDATE key_spend SET warned_at = level WHERE key_id = p_key AND month = p_month;
      IF k.webhook_url IS NOT NULL THEN
        INSERT INTO webhook_deliveries (key_id, event, url, payload)
        VALUES (p_key, 'budget.warning', k.webhook_url, jsonb_build_object(
          'key', jsonb_build_object('id', k.id, 'name', k.name, 'prefix', k.prefix),
          'month', to_char(p_month, 'YYYY-MM'),
          'threshold', level,
          'budget_usd', k.budget_usd,
          'spent_usd', s.spent_usd,
          'reserved_usd', s.reserved_usd));
      END IF;
    END IF;
  END IF;
END;
$$;

-- The job side: a new reservation is charged to the current month; reaching a terminal state
-- releases what is still reserved; any change of cost_usd is added to the month as spent.
CREATE FUNCTION darkroom_job_spend() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  this_month date := (date_trunc('month', now() AT TIME ZONE 'UTC'))::date;
  d_spent numeric := 0;
  d_reserved numeric := 0;
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM darkroom_key_spend(OLD.owner_key_id,
      coalesce(OLD.spend_month, (date_trunc('month', OLD.created_at AT TIME ZONE 'UTC'))::date),
      0, -OLD.reserved_usd);
    RETURN OLD;
  END IF;
  IF TG_OP = 'INSERT' THEN
    d_reserved := NEW.reserved_usd;
    d_spent := coalesce(NEW.cost_usd, 0);
    IF NEW.reserved_usd > 0 THEN
      NEW.spend_month := this_month;
    END IF;
  ELSE
    IF NEW.status IN ('completed', 'failed', 'canceled') THEN
      NEW.reserved_usd := 0;
    END IF;
    IF NEW.reserved_usd > OLD.reserved_usd THEN
      NEW.spend_month := this_month;
    END IF;
    d_reserved := NEW.reserved_usd - OLD.reserved_usd;
    d_spent := coalesce(NEW.cost_usd, 0) - coalesce(OLD.cost_usd, 0);
  END IF;
  IF d_spent <> 0 OR d_reserved <> 0 THEN
    PERFORM darkroom_key_spend(NEW.owner_key_id,
      coalesce(NEW.spend_month, (date_trunc('month', NEW.created_at AT TIME ZONE 'UTC'))::date),
      d_spent, d_reserved);
  END IF;
  RETURN NEW;
END;
$$;

-- The WHEN clauses keep the common writes free: jobs without a key, without a reservation and
-- whose cost does not change (every local job, every progress update) never call the function.
CREATE TRIGGER jobs_spend_insert
  BEFORE INSERT ON jobs
  FOR EACH ROW
  WHEN (NEW.owner_key_id IS NOT NULL AND (NEW.reserved_usd <> 0 OR coalesce(NEW.cost_usd, 0) <> 0))
  EXECUTE FUNCTION darkroom_job_spend();

CREATE TRIGGER jobs_spend_update
  BEFORE UPDATE ON jobs
  FOR EACH ROW
  WHEN (NEW.owner_key_id IS NOT NULL AND (
    NEW.reserved_usd IS DISTINCT FROM OLD.reserved_usd
    OR coalesce(NEW.cost_usd, 0) <> coalesce(OLD.cost_usd, 0)
    OR (OLD.reserved_usd <> 0 AND NEW.status IN ('completed', 'failed', 'canceled'))))
  EXECUTE FUNCTION darkroom_job_spend();

CREATE TRIGGER jobs_spend_delete
  AFTER DELETE ON jobs
  FOR EACH ROW
  WHEN (OLD.owner_key_id IS NOT NULL AND OLD.reserved_usd <> 0)
  EXECUTE FUNCTION darkroom_job_spend();
