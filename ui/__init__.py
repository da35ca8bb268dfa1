"""The desktop studio (PySide6). See ui/main_window.py for the layout and ui/tasks.py
for the threading model."""

from ui.qtfix import protect_bool_singletons

protect_bool_singletons()
