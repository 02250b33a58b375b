-- Every node caches id tokens (csms/actors/id_tokens.py): a change, whoever makes it (the REST
-- API, the CLI, another node, plain SQL), is announced on the channel csms_id_tokens with the
-- token's value and type separated by chr(31) as payload; a TRUNCATE with an empty payload
-- (forget everything). Notifications are sent at COMMIT, identical ones once per transaction.

CREATE FUNCTION id_tokens_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('csms_id_tokens', '');
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        PERFORM pg_notify('csms_id_tokens', OLD.id_token || chr(31) || OLD.type);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM pg_notify('csms_id_tokens', NEW.id_token || chr(31) || NEW.type);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER id_tokens_notify AFTER INSERT OR UPDATE OR DELETE ON id_tokens
    FOR EACH ROW EXECUTE FUNCTION id_tokens_notify();
CREATE TRIGGER id_tokens_notify_truncate AFTER TRUNCATE ON id_tokens
    FOR EACH STATEMENT EXECUTE FUNCTION id_tokens_notify();
