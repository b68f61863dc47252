"""The shared base every layer may use: input errors, safe YAML reading, atomic file writes.

It imports nothing else of the project (an import-linter contract in pyproject.toml).
"""
