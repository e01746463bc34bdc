-- ILIKE's case rule, the same as SQLite's whatever this database's locale:
-- only A-Z fold to a-z (see src/db/fold.rs).
CREATE FUNCTION mg_ascii_lower(text) RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') $$;
