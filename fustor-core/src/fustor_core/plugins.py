"""The plugin manager factory: every behaviour is loaded through entry points of group ``fustor``.

Which plugins load can be narrowed for tests and for "run without rule X":

* ``FUSTOR_PLUGINS=a,b`` — load only these entry points (by entry-point or distribution name);
* ``FUSTOR_DISABLE_PLUGINS=merge-tombstone`` — load everything except these;

or the same through the ``only=`` / ``exclude=`` arguments, which take precedence.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy

from fustor_core import PROJECT_NAME, hookspecs
from fustor_core.errors import PluginError

ONLY_ENV = "FUSTOR_PLUGINS"
DISABLE_ENV = "FUSTOR_DISABLE_PLUGINS"


@dataclass(frozen=True)
class PluginInfo:
    """One loaded plugin, as ``fustor plugins`` shows it."""

    name: str
    distribution: str
    version: str
    hooks: tuple[str, ...] = field(default=())


def _names_from_env(variable: str) -> set[str] | None:
    raw = os.environ.get(variable)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _matches(ep: EntryPoint, names: set[str]) -> bool:
    dist = ep.dist.name if ep.dist is not None else ""
    return ep.name in names or dist in names


def get_plugin_manager(
    *,
    only: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    extra: Iterable[Any] = (),
) -> pluggy.PluginManager:
    """A plugin manager with the hookspecs and the selected installed plugins registered.

    :param only: load only these plugins (entry-point or distribution names).
    :param exclude: do not load these plugins.
    :param extra: plugin objects to register in addition (tests, embedded use).
    """
    pm = pluggy.PluginManager(PROJECT_NAME)
    pm.add_hookspecs(hookspecs)
    only_names = set(only) if only is not None else _names_from_env(ONLY_ENV)
    excluded = set(exclude) if exclude is not None else (_names_from_env(DISABLE_ENV) or set())
    infos: dict[str, PluginInfo] = {}
    for ep in sorted(entry_points(group=PROJECT_NAME), key=lambda e: e.name):
        if only_names is not None and not _matches(ep, only_names):
            continue
        if _matches(ep, excluded) or pm.has_plugin(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must say who it is
            raise PluginError(f"plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        pm.register(plugin, name=ep.name)
        dist = ep.dist
        infos[ep.name] = PluginInfo(
            name=ep.name,
            distribution=dist.name if dist is not None else "?",
            version=dist.version if dist is not None else "?",
        )
    for plugin in extra:
        pm.register(plugin)
    pm._fustor_infos = infos  # type: ignore[attr-defined]
    return pm


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """The plugins registered in ``pm`` with their distribution, version and implemented hooks."""
    infos: dict[str, PluginInfo] = getattr(pm, "_fustor_infos", {})
    described = []
    for name, plugin in pm.list_name_plugin():
        if plugin is None:
            continue
        hooks = tuple(sorted(_hook_names(pm, plugin)))
        base = infos.get(name, PluginInfo(name=name, distribution="(registered in code)", version="-"))
        described.append(PluginInfo(base.name, base.distribution, base.version, hooks))
    return sorted(described, key=lambda info: info.name)


def _hook_names(pm: pluggy.PluginManager, plugin: object) -> set[str]:
    return {caller.name for caller in pm.get_hookcallers(plugin) or []}


def require_registry(pm: pluggy.PluginManager, hook_name: str, kind: str) -> dict[str, Any]:
    """Collect a ``register``-style hook (sources, pushers, sync modes) into a name -> factory map."""
    registry: dict[str, Any] = {}

    def register(name: str, factory: Any) -> None:
        if name in registry:
            raise PluginError(f"two plugins register the {kind} {name!r}")
        registry[name] = factory

    getattr(pm.hook, hook_name)(register=register)
    return registry
