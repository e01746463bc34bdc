DROP TABLE event_chain_head;
DROP TABLE events;
DROP TABLE activities;
DROP TABLE registered_model_aliases;
DROP TABLE model_version_tags;
DROP TABLE model_versions;
DROP TABLE registered_model_tags;
DROP TABLE registered_models;
