"""The settings dialog is generated from the node's schema and saves with PATCH; errors are shown."""
from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLabel, QLineEdit, QSpinBox

from app.autostart import xdg_autostart_path


def open_settings(qtbot, desktop):
    desktop.actions.settings.trigger()
    dialog = desktop.dialogs["settings"]
    qtbot.waitUntil(lambda: bool(dialog.loaded), timeout=10_000)
    return dialog


def test_one_editor_per_type_filled_from_the_node(qtbot, node, desktop):
    dialog = open_settings(qtbot, desktop)
    schema = node.http.get("/api/settings/schema").json()["settings"]
    assert set(dialog.editors) == {setting["key"] for setting in schema}
    kinds = {"pause.enabled": QCheckBox, "server.max_length": QSpinBox, "server.vram_reserve_gb": QDoubleSpinBox,
             "node.model": QLineEdit, "pause.exclusive_apps": QLineEdit, "server.device": QComboBox}
    for key, kind in kinds.items():
        assert isinstance(dialog.editors[key].widget, kind), key
    assert dialog.editors["node.model"].value() == "smollm2-135m-instruct"
    device = dialog.editors["server.device"].widget
    assert [device.itemText(index) for index in range(device.count())] == ["auto", "cuda", "cpu"]
    assert dialog.editors["server.device"].value() == "auto"
    assert [dialog.tabs.tabText(index) for index in range(dialog.tabs.count())] == ["Basics", "Advanced"]
    basics = dialog.tabs.widget(0).widget()  # the scroll area's page
    shown = {label.text() for label in basics.findChildren(QLabel)}
    assert "GPU memory to keep for your own programs (GiB)" in shown and "Start Meadow when you log in" in shown
    assert "Torch threads" not in shown  # an advanced one
    assert {item["key"] for item in schema if not item["advanced"]} == {
        editor.widget.objectName() for editor in dialog.editors.values() if basics.isAncestorOf(editor.widget)}
    swarm = dialog.editors["app.swarm"].widget
    assert isinstance(swarm, QComboBox) and swarm.itemData(0) == "" and swarm.itemText(0).startswith("Public")
    assert dialog.changes() == {}


def test_save_patches_the_node_and_sets_up_start_at_login(qtbot, node, desktop, tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    dialog = open_settings(qtbot, desktop)
    dialog.editors["pause.exclusive_apps"].widget.setText("supergame.exe, blender")
    dialog.editors["pause.resume_after_s"].widget.setValue(90)
    dialog.editors["app.start_at_login"].widget.setChecked(True)
    try:
        with qtbot.waitSignal(dialog.saved, timeout=10_000) as saved:
            dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
        assert sorted(saved.args[0]) == ["app.start_at_login", "pause.exclusive_apps", "pause.resume_after_s"]
        values = node.http.get("/api/settings").json()["values"]
        assert values["pause.exclusive_apps"] == ["supergame.exe", "blender"]
        assert values["pause.resume_after_s"] == 90
        # The node's settings event reaches the app, which writes the XDG autostart entry.
        qtbot.waitUntil(xdg_autostart_path().exists, timeout=10_000)
        assert "Exec=" in xdg_autostart_path().read_text() and " app --hidden" in xdg_autostart_path().read_text()
    finally:
        node.http.patch("/api/settings", json={"pause.exclusive_apps": [], "pause.resume_after_s": 120.0,
                                               "app.start_at_login": False}).raise_for_status()
    qtbot.waitUntil(lambda: not xdg_autostart_path().exists(), timeout=10_000)


def test_a_value_the_node_refuses_shows_its_message(qtbot, node, desktop):
    dialog = open_settings(qtbot, desktop)
    editor = dialog.editors["server.max_length"].widget
    editor.setMinimum(-5)  # the editor normally enforces the schema's minimum; the node checks it too
    editor.setValue(-5)
    dialog.buttons.button(dialog.buttons.StandardButton.Save).click()
    qtbot.waitUntil(lambda: "at least" in dialog.error.text(), timeout=10_000)
    assert dialog.isVisible()
    assert node.http.get("/api/settings").json()["values"]["server.max_length"] == 8192
