-- The node that runs each discharge session (SPEC sections 6 and 9): a session is run by the
-- node holding its station's socket. A node claims a session only when no other live node runs
-- it (this column NULL, its own id, or a node whose liveness lock is free), and gives it back
-- (NULL) once its actor has stopped: never two live actors writing one session's row.

ALTER TABLE v2g_sessions ADD COLUMN node_id text;
