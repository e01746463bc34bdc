DROP TABLE stage_clearances;
