-- A transition request may ask for an alias to name its version instead of
-- a stage move (its to_stage is then the stage it was made from).
ALTER TABLE transition_requests ADD COLUMN alias TEXT;
