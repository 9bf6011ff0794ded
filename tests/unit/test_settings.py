import pytest

from photon_node.core.settings import ConfigError, HostPort, load, parse_host_port, reference_table


def test_defaults_apply_when_nothing_is_given():
    settings, _ = load([], {})
    assert settings.listen == HostPort("0.0.0.0", 7700)
    assert settings.peer_listen == HostPort("0.0.0.0", 7701)
    assert settings.max_value_bytes == 1024 * 1024
    assert settings.role == "data"


def test_precedence_is_defaults_file_env_flags(tmp_path):
    config = tmp_path / "node.yaml"
    config.write_text(
        "node-id: from-file\nmax_value_bytes: 100\nlog_level: debug\nrole: observer\n"
    )
    environ = {"PHOTON_MAX_VALUE_BYTES": "200", "PHOTON_LOG_LEVEL": "warning"}
    settings, _ = load(["--config", str(config), "--log-level", "error"], environ)
    assert settings.node_id == "from-file"  # file only
    assert settings.role == "observer"  # file only
    assert settings.max_value_bytes == 200  # env beats file
    assert settings.log_level == "error"  # flag beats env and file


def test_config_file_from_environment(tmp_path):
    config = tmp_path / "node.yaml"
    config.write_text("node_id: via-env-config\n")
    settings, _ = load([], {"PHOTON_CONFIG": str(config)})
    assert settings.node_id == "via-env-config"


@pytest.mark.parametrize(
    ("argv", "environ", "option", "source"),
    [
        (["--listen", "nohost"], {}, "listen", "flag --listen"),
        ([], {"PHOTON_LISTEN": "1.2.3.4:99999"}, "listen", "environment PHOTON_LISTEN"),
        (["--max-value-bytes", "0"], {}, "max_value_bytes", "flag --max-value-bytes"),
        (["--max-value-bytes", "ten"], {}, "max_value_bytes", "flag --max-value-bytes"),
        (["--node-id", "bad id!"], {}, "node_id", "flag --node-id"),
        (["--role", "king"], {}, "role", "flag --role"),
        (["--shutdown-timeout", "-1"], {}, "shutdown_timeout", "flag --shutdown-timeout"),
        (["--listen", "127.0.0.1:7000", "--peer-listen", "127.0.0.1:7000"], {}, "peer_listen", ""),
    ],
)
def test_invalid_values_name_option_and_source(argv, environ, option, source):
    with pytest.raises(ConfigError) as caught:
        load(argv, environ)
    assert caught.value.option == option
    assert f"option '{option}'" in str(caught.value)
    assert source in str(caught.value)


def test_unknown_file_key_is_refused(tmp_path):
    config = tmp_path / "node.yaml"
    config.write_text("listen: 127.0.0.1:1\nlisen: typo\n")
    with pytest.raises(ConfigError, match="lisen"):
        load(["--config", str(config)], {})


@pytest.mark.parametrize("body", ["[1, 2]", "listen: [unclosed"])
def test_malformed_file_is_refused(tmp_path, body):
    config = tmp_path / "node.yaml"
    config.write_text(body)
    with pytest.raises(ConfigError, match="config"):
        load(["--config", str(config)], {})


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load(["--config", str(tmp_path / "absent.yaml")], {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.0.0.0:7700", HostPort("0.0.0.0", 7700)),
        ("[::1]:80", HostPort("::1", 80)),
        ("photon-0.photon.ns.svc:7701", HostPort("photon-0.photon.ns.svc", 7701)),
    ],
)
def test_host_port_parsing(text, expected):
    assert parse_host_port(text) == expected
    assert parse_host_port(str(expected)) == expected


def test_reference_table_lists_every_option():
    table = reference_table()
    for name in ("node_id", "data_dir", "listen", "peer_listen", "max_value_bytes"):
        assert f"`{name}`" in table
    assert "PHOTON_MAX_VALUE_BYTES" in table
