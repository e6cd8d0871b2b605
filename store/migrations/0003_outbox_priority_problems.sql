-- 0003: alerts are delivered by priority (critical and warning before
-- info, but in the order raised within one order key: a case, a sink, a
-- connector); a delivery's retry window starts when it was queued or its
-- sink re-enabled; problems dedup alerts until a resolved alert closes
-- them.

ALTER TABLE alerts ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE alerts ADD COLUMN order_key TEXT NOT NULL DEFAULT '';
UPDATE alerts SET
	priority = CASE json_extract(payload, '$.severity') WHEN 'critical' THEN 2 WHEN 'warning' THEN 1 ELSE 0 END,
	order_key = CASE
		WHEN case_id != '' THEN 'case:' || case_id
		WHEN coalesce(json_extract(payload, '$.connector'), '') != '' THEN 'connector:' || json_extract(payload, '$.connector')
		ELSE '' END;

ALTER TABLE deliveries ADD COLUMN since TEXT NOT NULL DEFAULT '';
UPDATE deliveries SET since = (SELECT at FROM alerts WHERE alerts.seq = deliveries.alert_seq);

-- An open problem; its alert fired once and fires again only after the
-- problem is resolved (the row deleted with a resolved alert).
CREATE TABLE problems (
	key       TEXT PRIMARY KEY,
	opened_at TEXT NOT NULL,
	alert     TEXT NOT NULL CHECK (json_valid(alert))
);
