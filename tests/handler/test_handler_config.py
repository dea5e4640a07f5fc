"""Environment validation at cold start."""

from __future__ import annotations

import pytest

from handler.config import DEFAULT_MAX_OBJECT_BYTES, SINGLE_PUT_LIMIT, ConfigError, HandlerConfig


def test_defaults() -> None:
    config = HandlerConfig.from_env({})
    assert config.delete_original_version is True
    assert config.on_failure == "tag"
    assert config.quarantine_prefix == "quarantine/"
    assert config.max_object_bytes == DEFAULT_MAX_OBJECT_BYTES
    assert config.include_prefixes == () and config.exclude_prefixes == ()
    assert config.report_only is False
    assert config.policy.fingerprint() == "p1;icc"


def test_values_are_read() -> None:
    config = HandlerConfig.from_env(
        {
            "DELETE_ORIGINAL_VERSION": "false",
            "ON_FAILURE": "Quarantine",
            "QUARANTINE_PREFIX": "q/",
            "MAX_OBJECT_BYTES": "1000",
            "INCLUDE_PREFIXES": " uploads/ , avatars/,",
            "EXCLUDE_PREFIXES": "uploads/tmp/",
            "REPORT_ONLY": "yes",
            "KEEP_COPYRIGHT": "true",
            "STRIP_ICC": "1",
        }
    )
    assert (config.delete_original_version, config.on_failure, config.quarantine_prefix) == (False, "quarantine", "q/")
    assert config.max_object_bytes == 1000 and config.report_only
    assert config.include_prefixes == ("uploads/", "avatars/") and config.exclude_prefixes == ("uploads/tmp/",)
    assert config.policy.keep_copyright and config.policy.strip_icc


def test_every_bad_variable_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as raised:
        HandlerConfig.from_env(
            {
                "DELETE_ORIGINAL_VERSION": "maybe",
                "ON_FAILURE": "delete",
                "MAX_OBJECT_BYTES": "10GB",
                "QUARANTINE_PREFIX": "quarantine",
                "MAX_PIXELS": "-5",
                "REPORT_ONLY": "2",
            }
        )
    message = str(raised.value)
    for name in (
        "DELETE_ORIGINAL_VERSION",
        "ON_FAILURE",
        "MAX_OBJECT_BYTES",
        "QUARANTINE_PREFIX",
        "MAX_PIXELS",
        "REPORT_ONLY",
    ):
        assert name in message, name


@pytest.mark.parametrize("value", ["0", "-1", str(SINGLE_PUT_LIMIT + 1)])
def test_max_object_bytes_must_fit_a_single_put(value: str) -> None:
    with pytest.raises(ConfigError, match="MAX_OBJECT_BYTES"):
        HandlerConfig.from_env({"MAX_OBJECT_BYTES": value})


def test_scope_of_keys() -> None:
    config = HandlerConfig.from_env({"INCLUDE_PREFIXES": "uploads/", "EXCLUDE_PREFIXES": "uploads/raw/"})
    assert config.excluded_because("uploads/a.jpg") is None
    assert config.excluded_because("uploads/raw/a.jpg")
    assert config.excluded_because("other/a.jpg")
    everything = HandlerConfig.from_env({})
    assert everything.excluded_because("any/where.jpg") is None
    assert everything.excluded_because("quarantine/x.jpg"), "the quarantine prefix is never scrubbed"


def test_marker_records_policy_and_versions() -> None:
    config = HandlerConfig.from_env({"KEEP_COPYRIGHT": "true"})
    assert config.marker("13.59").base == "p1;icc;copyright;engine=0.1.0;exiftool=13.59"
