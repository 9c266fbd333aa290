#!/bin/sh
# The platform's databases beside Airflow's (docs/deploy.md), owned by their own role.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE governance LOGIN PASSWORD '${POSTGRES_PASSWORD}';
CREATE DATABASE governance OWNER governance;
CREATE DATABASE cases OWNER governance;
SQL
