-- +goose Up
-- Backfill the new fields from the old one (names are two words).
UPDATE people SET first = substr(name, 1, instr(name, ' ') - 1), last = substr(name, instr(name, ' ') + 1) WHERE first IS NULL;
