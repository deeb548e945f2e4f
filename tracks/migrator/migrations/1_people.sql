-- +goose Up
-- Release 1: a person is one field.
CREATE TABLE people (id TEXT PRIMARY KEY, name TEXT NOT NULL);
