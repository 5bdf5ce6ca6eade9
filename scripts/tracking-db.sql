-- Create (or update) the MLflow role and database; idempotent.
-- psql -v user=... -v password=... -v db=... -f scripts/tracking-db.sql
-- Used by scripts/tracking-server.sh and tests/servers.py; the docker postgres image
-- does the same from POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB.
\set ON_ERROR_STOP on
SELECT NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'user') AS need_role \gset
\if :need_role
CREATE ROLE :"user" LOGIN PASSWORD :'password';
\else
ALTER ROLE :"user" LOGIN PASSWORD :'password';
\endif
SELECT NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'db') AS need_db \gset
\if :need_db
CREATE DATABASE :"db" OWNER :"user";
\endif
