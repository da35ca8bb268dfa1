"""The desktop studio (PySide6). See ui/main_window.py for the layout and ui/worker.py
for the threading model."""

from ui.qtfix import protect_bool_singletons

try:
    protect_bool_singletons()
except ImportError:  # no PySide6: ui.entry can still say so and run the CLI
    pass
