-- Live streams respect tenancy and revocation.
--
-- 1. A deletion's notification carries the job's owner, so each API process can pass it only to
--    the streams allowed to see that job (the owner's key and admin keys), like every other event.
--    The trigger of 00007 keeps calling this function; only its body changes.
CREATE OR REPLACE FUNCTION darkroom_notify_job_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    PERFORM pg_notify('darkroom_jobs',
      json_build_object('id', OLD.id, 'op', 'delete', 'schema', TG_TABLE_SCHEMA,
                        'owner_key_id', OLD.owner_key_id)::text);
    RETURN OLD;
  END IF;
  PERFORM pg_notify('darkroom_jobs',
    json_build_object('id', NEW.id, 'op', lower(TG_OP), 'schema', TG_TABLE_SCHEMA,
                      'owner_key_id', NEW.owner_key_id)::text);
  RETURN NEW;
END;
$$;

-- 2. A key revoked (or removed), however it happens (`deno task keys revoke`, a manual UPDATE),
--    is announced on `darkroom_keys` with the key's id as the payload: every API process hears it
--    and ends that key's open event streams. Revocations are rare, so the notification lock
--    taken at commit costs nothing that matters.
CREATE FUNCTION darkroom_notify_key_revoked() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('darkroom_keys', OLD.id::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER api_keys_notify_revoked
  AFTER UPDATE OF revoked_at ON api_keys
  FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL)
  EXECUTE FUNCTION darkroom_notify_key_revoked();

CREATE TRIGGER api_keys_notify_deleted
  AFTER DELETE ON api_keys
  FOR EACH ROW
  WHEN (OLD.revoked_at IS NULL)
  EXECUTE FUNCTION darkroom_notify_key_revoked();
