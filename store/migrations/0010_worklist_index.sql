-- 0010: the worklist orders the cases of some statuses by their next
-- deadline, joining deadlines on the case id: with the id in the status
-- index the open cases are read from the index alone, no row of cases.

CREATE INDEX cases_status_id ON cases (status, id);
