"""Settings: sizes, addresses and config files an admin writes by hand."""

import ipaddress

import pytest

from mailguard.config import ConfigError, load_settings, parse_hostport, parse_size


@pytest.mark.parametrize(
    ("text", "size"),
    [("52428800", 52428800), ("50M", 50 * 1024**2), ("512k", 512 * 1024), ("1G", 1024**3)],
)
def test_sizes_accept_units(text, size):
    assert parse_size(text) == size


def test_nonsense_size_is_refused():
    with pytest.raises(ValueError, match="not a size"):
        parse_size("lots")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("127.0.0.1:10025", ("127.0.0.1", 10025)),
        ("[::1]:25", ("::1", 25)),
        ("mx.example.org:2525", ("mx.example.org", 2525)),
    ],
)
def test_host_and_port(text, expected):
    assert parse_hostport(text) == expected


@pytest.mark.parametrize("text", ["10025", "host:", "host:99999", "::1:25"])
def test_bad_host_and_port_is_refused(text):
    with pytest.raises(ValueError):
        parse_hostport(text)


def test_defaults_are_safe_for_a_loopback_content_filter():
    s = load_settings(None, {})
    assert s.listen == ("127.0.0.1", 10025)
    assert s.upstream == ("127.0.0.1", 10026)
    assert s.max_size == 50 * 1024**2
    assert ipaddress.ip_address("127.0.0.1") in s.allow[0]
    assert ipaddress.ip_address("10.1.2.3") not in s.allow[0]


def test_flags_override_the_config_file(tmp_path):
    f = tmp_path / "mg.yaml"
    f.write_text("max-size: 10M\nmax_recipients: 50\nallow: [10.0.0.0/8]\n")
    s = load_settings(f, {"max_recipients": 7, "allow": ()})
    assert s.max_size == 10 * 1024**2
    assert s.max_recipients == 7
    assert [str(n) for n in s.allow] == ["10.0.0.0/8"]


def test_yaml_syntax_error_names_file_line_and_column(tmp_path):
    f = tmp_path / "mg.yaml"
    f.write_text("listen: 127.0.0.1:10025\nupstream: [oops\n")
    with pytest.raises(ConfigError) as err:
        load_settings(f, {})
    assert str(err.value).startswith(f"{f}:3:1:")


def test_unknown_setting_is_named(tmp_path):
    f = tmp_path / "mg.yaml"
    f.write_text("max_sizee: 10M\n")
    with pytest.raises(ConfigError, match="max_sizee"):
        load_settings(f, {})


def test_missing_config_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings(tmp_path / "nope.yaml", {})


def test_the_shipped_example_config_is_valid():
    from pathlib import Path

    example = Path(__file__).parents[2] / "deploy" / "mailguard.example.yaml"
    s = load_settings(example, {})
    assert s.data_dir == Path("/var/lib/mailguard")


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("directory: {url: http://dc1, base_dn: dc=x}", "4:12: directory: url must be ldap://"),
        (
            "directory: {url: ldaps://dc1, base_dn: dc=x, bind_password: a,"
            " bind_password_file: /p}",
            "give bind_password or bind_password_file, not both",
        ),
        (
            "directory: {url: ldaps://dc1, base_dn: dc=x, login_dn_template: uid=x}",
            "login_dn_template needs {login}",
        ),
        (
            "directory: {url: ldaps://dc1, base_dn: dc=x, attributes: {mial: x}}",
            "4:65: directory.attributes.mial: unknown setting",
        ),
        ("roles: {boss: [Mailguard Admins]}", "roles.boss"),
        ("oidc: {discovery_url: login.example, client_id: x}", "discovery_url must be an https"),
    ],
)
def test_directory_and_sign_in_settings_say_what_is_wrong_and_where(tmp_path, section, problem):
    config = tmp_path / "mailguard.yaml"
    config.write_text(f"listen: 127.0.0.1:10025\nupstream: 127.0.0.1:10026\n\n{section}\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(config, {})
    assert problem in str(caught.value)
    assert str(config) in str(caught.value)


def test_roles_take_one_group_or_several(tmp_path):
    config = tmp_path / "mailguard.yaml"
    config.write_text("roles: {reviewer: Mailguard Reviewers, admin: [A, B]}\n")
    assert load_settings(config, {}).roles == {
        "reviewer": ["Mailguard Reviewers"],
        "admin": ["A", "B"],
    }


def test_processes_auto_is_one_per_cpu_the_relay_may_use(tmp_path):
    import os

    config = tmp_path / "mailguard.yaml"
    config.write_text("processes: auto\n")
    assert load_settings(config, {}).processes == len(os.sched_getaffinity(0))
    config.write_text("processes: many\n")
    with pytest.raises(ConfigError) as err:
        load_settings(config, {})
    assert "processes" in str(err.value.problems)
