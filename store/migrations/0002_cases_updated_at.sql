-- 0002: cases by their last write, so the agent's store-wide PHI index
-- reads only the cases written since its last refresh.
CREATE INDEX cases_updated ON cases (updated_at);
