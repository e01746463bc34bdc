-- Login tokens carry the generation they were issued in; changing the
-- password or disabling the user moves it, ending every earlier session.
ALTER TABLE users ADD COLUMN session_generation BIGINT NOT NULL DEFAULT 0;
