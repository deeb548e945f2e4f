-- +goose Up
-- Expand: the new fields, nullable, next to the old one.
ALTER TABLE people ADD COLUMN first TEXT;
ALTER TABLE people ADD COLUMN last TEXT;
