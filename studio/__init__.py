"""The application layer: projects, assets, presets, timeline, render queue, export, CLI.

Qt-free (nothing here imports PySide6), so everything runs headless from the CLI and tests.
"""
