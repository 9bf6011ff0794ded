"""Lowest layer of the node: settings, errors, codecs and metrics that every other layer uses."""
