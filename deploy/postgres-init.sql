-- Run once by the postgres image on an empty data volume (docker-entrypoint-initdb.d), as POSTGRES_USER in
-- POSTGRES_DB (chuishao): the Prefect server keeps its own state in a second database, never in ours.
CREATE DATABASE prefect;
