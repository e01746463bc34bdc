-- ILIKE's case rule, mg_ascii_lower(text): SQLite has no CREATE FUNCTION,
-- so every connection registers it when it opens (src/db/fold.rs). Kept as
-- a migration of its own so both backends list the same migrations.
SELECT 1;
