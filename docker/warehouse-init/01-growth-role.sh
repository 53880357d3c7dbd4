#!/usr/bin/env bash
# First start of the warehouse container: the project's role `growth` (no superuser rights) owning the
# `growth` database, so that the loader and dbt work as in every other setup.
set -euo pipefail
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
     -v growth_password="$GROWTH_WAREHOUSE_PASSWORD" <<'SQL'
create role growth login password :'growth_password';
create database growth owner growth;
SQL
