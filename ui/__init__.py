"""The desktop studio (PySide6). See ui/main_window.py for the layout and ui/tasks.py
for the threading model."""

import contextlib

from ui.qtfix import protect_bool_singletons

with contextlib.suppress(ImportError):  # no PySide6: ui.entry can still say so, run the CLI
    protect_bool_singletons()
