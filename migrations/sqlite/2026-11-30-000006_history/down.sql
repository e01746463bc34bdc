DROP TABLE resolution_history;
DROP TABLE model_names;
