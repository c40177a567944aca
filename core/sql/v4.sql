-- Schema version 4 (data only). Before it, ending a walk stamped only `status` with the end's
-- clock, although the end also sets `ended`, `summary`, `buurten`, `track` and closes an open
-- pause: those went out under their old clocks. A team server refuses a second value under a
-- clock it already holds (docs/sync-protocol.md, `clock_reused`), so such a walk's end would
-- never reach the team. Each of these fields gets at least the walk's status clock (set when
-- it ended or, later, was submitted), which orders after every earlier change of them.
UPDATE walks SET field_clocks = json_set(field_clocks,
        '$.ended',   max(coalesce(json_extract(field_clocks, '$.ended'), ''),   json_extract(field_clocks, '$.status')),
        '$.summary', max(coalesce(json_extract(field_clocks, '$.summary'), ''), json_extract(field_clocks, '$.status')),
        '$.buurten', max(coalesce(json_extract(field_clocks, '$.buurten'), ''), json_extract(field_clocks, '$.status')),
        '$.track',   max(coalesce(json_extract(field_clocks, '$.track'), ''),   json_extract(field_clocks, '$.status')),
        '$.pauses',  max(coalesce(json_extract(field_clocks, '$.pauses'), ''),  json_extract(field_clocks, '$.status')))
WHERE status <> 'active' AND json_extract(field_clocks, '$.status') IS NOT NULL;
