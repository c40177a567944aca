-- Schema version 2: the review loop. A lead's decisions (a signal's status and referral, a
-- question to the author) and the author's answer travel with the walk or record; they are
-- kept as one JSON object per row, each field with its own clock in `field_clocks`.
ALTER TABLE records ADD COLUMN review TEXT NOT NULL DEFAULT '{}';
ALTER TABLE walks ADD COLUMN review TEXT NOT NULL DEFAULT '{}';
