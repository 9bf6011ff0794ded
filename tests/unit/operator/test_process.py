"""The kopf side: handlers register, settings are applied, the console script starts."""

import logging

import kopf

from photon_common.logs import JsonFormatter
from photon_operator.handlers import lifecycle
from photon_operator.main import main
from photon_operator.model.settings import Settings


def test_handlers_register_a_daemon_and_an_update_handler():
    import photon_operator.handlers  # noqa: F401

    registry = kopf.get_default_registry()
    ids = {str(h.id) for h in registry._spawning.get_all_handlers()}
    ids |= {str(h.id) for h in registry._changing.get_all_handlers()}
    assert "drive" in ids and any(i.startswith("changed") for i in ids)


def test_kopf_settings_use_our_prefix_and_timeouts():
    settings = kopf.OperatorSettings()
    lifecycle.configure(settings, Settings.from_env({"PHOTON_OPERATOR_WATCH_SERVER_TIMEOUT": "99"}))
    assert settings.persistence.finalizer == "photondb.io/finalizer"
    assert settings.persistence.progress_storage.prefix == "operator.photondb.io"
    assert settings.watching.server_timeout == 99
    assert settings.watching.client_timeout == 300


def test_help_lists_every_setting(capsys):
    assert main(["--help"]) == 0
    assert "PHOTON_OPERATOR_NAMESPACES" in capsys.readouterr().out


def test_bad_setting_exits_2(monkeypatch, capsys):
    monkeypatch.setenv("PHOTON_OPERATOR_NODE_ACCESS", "carrier-pigeon")
    assert main([]) == 2
    assert "PHOTON_OPERATOR_NODE_ACCESS" in capsys.readouterr().err


def test_json_logs():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    assert '"msg": "hello you"' in JsonFormatter().format(record)
