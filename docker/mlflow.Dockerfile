# The official image ships without a PostgreSQL driver; add one, pinned.
# docker-compose.yml passes MLFLOW_VERSION; the default keeps a plain `docker build` in step.
ARG MLFLOW_VERSION=3.17.2
FROM ghcr.io/mlflow/mlflow:v${MLFLOW_VERSION}
RUN pip install --no-cache-dir psycopg2-binary==2.9.13
