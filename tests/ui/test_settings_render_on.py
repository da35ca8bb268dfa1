"""Settings: "Render on" (this computer | local cluster | Ray cluster) is validated with
studio.cluster.parse_address, a bad address is refused in the dialog with one line, a good
one is stored and handed to the render lane; the installed voices are listed."""

from __future__ import annotations

from ui.settings import SettingsDialog


def _dialog(qtbot, settings) -> SettingsDialog:
    dlg = SettingsDialog(settings)
    qtbot.addWidget(dlg)
    dlg.show()
    return dlg


def test_bad_ray_address_is_refused_in_the_dialog(qtbot, app_settings):
    dlg = _dialog(qtbot, app_settings)
    assert dlg.render_combo.currentText() == "this computer"
    assert not dlg.address_edit.isVisible() and not dlg.workers_spin.isVisible()
    dlg.render_combo.setCurrentText("Ray cluster")
    assert dlg.address_edit.isVisible()
    for bad in ("10.0.0.5:10001", "ray://host:99999", ""):
        dlg.address_edit.setText(bad)
        dlg.accept()
        assert dlg.isVisible() and dlg.result() == 0  # kept open
        assert dlg.render_error.isVisible()
        message = dlg.render_error.text()
        assert "ray://HOST:PORT" in message and "\n" not in message
        assert "--cluster" not in message  # CLI wording stays in the CLI
    assert app_settings.render_on == ""  # nothing stored
    dlg.address_edit.setText("ray://10.0.0.5:10001")
    assert not dlg.render_error.isVisible()  # typing clears the complaint
    dlg.accept()
    assert not dlg.isVisible()
    assert app_settings.render_on == "ray://10.0.0.5:10001"


def test_local_cluster_choice_round_trips(qtbot, app_settings):
    dlg = _dialog(qtbot, app_settings)
    dlg.render_combo.setCurrentText("local cluster")
    dlg.workers_spin.setValue(3)
    dlg.accept()
    assert app_settings.render_on == "local:3"
    again = _dialog(qtbot, app_settings)  # shows what is stored
    assert again.render_combo.currentText() == "local cluster"
    assert again.workers_spin.value() == 3
    again.render_combo.setCurrentText("this computer")
    again.accept()
    assert app_settings.render_on == ""


def test_hand_edited_bad_value_means_this_computer(app_settings):
    app_settings.q.setValue("render/cluster", "local:0")
    assert app_settings.render_on == ""
    app_settings.q.setValue("render/cluster", "ray://example.org:10001")
    assert app_settings.render_on == "ray://example.org:10001"


def test_voices_are_listed_with_their_origin(qtbot, app_settings):
    from core.tts import list_voices

    dlg = _dialog(qtbot, app_settings)
    voices = list_voices()
    lines = [dlg.voices.item(i).text() for i in range(dlg.voices.count())]
    if not voices:
        assert lines == ["no voice installed"]
        return
    assert len(lines) == len(voices)
    for v, line in zip(voices, lines, strict=True):
        assert line.startswith(v.label)
        assert ("bundled" in line) == (v.origin == "bundled")


def test_render_lane_gets_the_setting(make_window, qtbot, project_copy, app_settings):
    from tests.ui.conftest import open_window

    app_settings.render_on = "local:2"
    win = open_window(make_window, qtbot, project_copy, app_settings)
    host = win.session.background.render_host
    assert host.render_on == "local:2"
    assert host.runner is None  # no cluster started at project open
