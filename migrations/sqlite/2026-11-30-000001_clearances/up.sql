-- The stages each version has entered meeting that stage's gate (or, once
-- cleared, by a rollback). A version may come back to a guarded stage by a
-- weaker rule only if it is cleared for it.
CREATE TABLE stage_clearances (
    model_id BIGINT NOT NULL REFERENCES registered_models (id) ON DELETE CASCADE,
    version BIGINT NOT NULL,
    stage TEXT NOT NULL,
    PRIMARY KEY (model_id, version, stage)
);

-- Versions that entered a stage before guards existed did so under the rules
-- of their day: they keep the rollbacks those rules gave them.
INSERT INTO stage_clearances (model_id, version, stage)
SELECT DISTINCT a.model_id, a.version, a.to_stage
FROM activities a
JOIN model_versions v ON v.model_id = a.model_id AND v.version = a.version
WHERE a.activity_type IN ('APPLIED_TRANSITION', 'SYSTEM_TRANSITION')
  AND a.to_stage IS NOT NULL;
