# The image every service of docker-compose.yaml runs: Airflow plus this project's package
# (`instagram_graph`: hook, operators, triggers, CLI) and the Graph API simulator (`graph_api_sim`).
#
# The base tag must match the apache-airflow pin in requirements.txt
# (tests/unit/test_docker_compose.py fails when they drift apart).
FROM apache/airflow:3.3.2-python3.11

# The source stays at a fixed path and is installed in editable mode, so the installed package
# keeps the repository layout (plugins/, include/, sql/ side by side) that the migrations rely on.
ENV INSTAGRAM_PROJECT_DIR=/opt/airflow/project
WORKDIR ${INSTAGRAM_PROJECT_DIR}

# Dependencies first: this layer is rebuilt only when requirements.txt changes.
# requirements.txt pins every version (no constraint file can be fetched), including
# apache-airflow itself, so nothing here up- or downgrades the Airflow of the base image.
COPY --chown=airflow:0 requirements.txt ./
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r requirements.txt

COPY --chown=airflow:0 pyproject.toml README.md ./
COPY --chown=airflow:0 plugins/ plugins/
COPY --chown=airflow:0 include/ include/
COPY --chown=airflow:0 sql/ sql/
COPY --chown=airflow:0 docker/ docker/

# --no-deps: everything was installed from the pinned set above, the Celery provider
# included (requirements.txt pins it, so the image and a native install run the same one).
# The imports check that the build produced a usable image.
RUN pip install --no-cache-dir --no-deps -e . \
    && python -c "import instagram_graph, graph_api_sim, airflow.providers.celery" \
    && python -m compileall -q plugins include
# (Byte-compiled: with PYTHONDONTWRITEBYTECODE, as in many images, every task process and DAG
# parse would compile the package's modules from source again.)

# Where the simple auth manager keeps its passwords file (a named volume in docker-compose.yaml).
RUN mkdir -p /opt/airflow/auth && chmod 0775 /opt/airflow/auth

WORKDIR /opt/airflow
