"""The Dagster wiring: resources, assets and checks, sensors, and the definitions built from them.

Nothing below this package imports Dagster; `definitions.py` loads `project.build_defs`.
"""
