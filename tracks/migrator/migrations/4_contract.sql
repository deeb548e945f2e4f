-- +goose Up
-- Contract: the old field goes, once no release reads or writes it.
ALTER TABLE people DROP COLUMN name;
