"""The README's reference sections are generated from, and kept in step with, the code."""

from pathlib import Path

from photon_node.core.metrics import NodeMetrics
from photon_node.core.settings import reference_table

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_configuration_table_matches_the_options():
    assert reference_table() in README


def test_every_photon_metric_is_documented():
    names = {
        metric.name
        for metric in NodeMetrics().registry.collect()
        if metric.name.startswith("photon_")
    }
    assert names
    for name in names:
        suffix = "_total" if f"`{name}_total" in README else ""
        assert f"`{name}{suffix}" in README, f"{name} is missing from README.md"
