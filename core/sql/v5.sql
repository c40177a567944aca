-- Schema version 5: a walk's debrief (which of the four logics dominated, and a note), kept
-- with the walk and synced as its field `debrief` (JSON; NULL until the walker writes one).
ALTER TABLE walks ADD COLUMN debrief TEXT;
