-- Run once by the postgres image, when its data volume is first created
-- (mounted into /docker-entrypoint-initdb.d by docker-compose.yaml).
--
-- The `airflow` database (POSTGRES_DB) holds Airflow's metadata and the Celery results;
-- `instagram` is the warehouse that the project's migrations (sql/) and DAGs write to,
-- reached through the `instagram_warehouse` connection.
--
-- An existing volume skips this script: `docker compose down -v` starts from scratch.
CREATE DATABASE instagram OWNER airflow;
