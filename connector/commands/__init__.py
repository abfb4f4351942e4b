"""The `portabilling` command line: the dispatcher (`cli`) and the demo and webhook sub-commands.

Nothing is imported here: `cli` loads only the sub-command it runs (the demo loads Dagster).
"""
