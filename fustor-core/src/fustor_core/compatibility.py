"""Which ``fustor-core`` a plugin or command was built for, read from its own packaging.

A plugin declares the cores it supports the ordinary way, as a dependency of its distribution
(``dependencies = ["fustor-core>=0.1,<0.2"]``, i.e. ``Requires-Dist`` in its metadata), so there
is nothing Fustor-specific to declare and pip sees the same range. The plugin manager and the
``fustor`` command read it before importing anything, so a plugin written against another core
is refused with its range instead of failing somewhere inside with an AttributeError.
"""

from __future__ import annotations

from importlib.metadata import Distribution

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from fustor_core import __version__

CORE_DISTRIBUTION = "fustor-core"


def declared_core_range(dist: Distribution | None) -> SpecifierSet | None:
    """The ``fustor-core`` specifier among ``dist``'s unconditional requirements, if any."""
    if dist is None:
        return None
    for line in dist.requires or []:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != CORE_DISTRIBUTION:
            continue
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue  # e.g. only for an extra: not what the plugin itself runs on
        return requirement.specifier
    return None


def describe_range(specifier: SpecifierSet) -> str:
    """``>=0.1,<0.2``: lower bounds first, as people write ranges (packaging sorts them as text)."""
    lower_first = sorted(specifier, key=lambda spec: (spec.operator.startswith("<"), str(spec)))
    return ",".join(str(spec) for spec in lower_first) or "(any version)"


def core_incompatibility(dist: Distribution | None, core_version: str = __version__) -> str | None:
    """Why ``dist`` cannot run on this ``fustor-core``, or None when it can (or says nothing)."""
    wanted = declared_core_range(dist)
    if wanted is None or wanted.contains(core_version, prereleases=True):
        return None
    name = dist.name if dist is not None else "the plugin"
    return (
        f"built for fustor-core {describe_range(wanted)} but fustor-core {core_version} is installed; "
        f"install a release of {name} made for this core"
    )
