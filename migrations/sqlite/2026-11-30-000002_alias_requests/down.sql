ALTER TABLE transition_requests DROP COLUMN alias;
