"""A plugin that only imports: the modules every Graph API task and DAG file needs.

Airflow forks its task processes (the LocalExecutor's workers are forked from the scheduler,
and fork each task) and its DAG-parsing processes (from the dag-processor). What the parent
has imported costs a child nothing; what it has not is imported again in every child. Ours
cost about 0.3 CPU-second each time (redis-py pulls in OpenTelemetry's SDK), paid by each
task instance and by each parse of each DAG file, every 30 s.

With ``[core] lazy_load_plugins = False`` (``make airflow`` and docker-compose set it), Airflow
loads plugins when a process starts, so this one puts the modules in the parents. With lazy
loading (Airflow's default) it costs nothing extra: a task process loads plugins after its
DAG file has imported the same modules.
"""

from __future__ import annotations

import importlib

from airflow.plugins_manager import AirflowPlugin

# What the DAG files import (and, through them, the hook, the limiter, the sync streams).
TASK_MODULES = (
    "instagram_graph.operators.first_tasks",
    "instagram_graph.operators.messaging",
    "instagram_graph.operators.publish",
    "instagram_graph.operators.shard_sync",
    "instagram_graph.operators.sync",
    "instagram_graph.operators.tokens",
)
for _module in TASK_MODULES:
    importlib.import_module(_module)


class InstagramPreloadPlugin(AirflowPlugin):
    """Registers nothing; importing this module is its whole job."""

    name = "instagram_graph_preload"
