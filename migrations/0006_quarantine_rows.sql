-- A body's single unreadable rows are quarantined too (the body's other rows are used): such
-- a row names where in its body it is. NULL: the whole body is quarantined, because it breaks
-- its endpoint's contract (no row array, a renamed column) or is not JSON or CSV at all.
ALTER TABLE quarantine ADD COLUMN locator VARCHAR;
