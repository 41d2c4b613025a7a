"""Plugin-owned options: a merge rule or a sync mode declares a pydantic model, and the service
validates the section configured under the plugin's name against it, at start.

* a **merge rule** registers its model with ``fustor_rule_options(register)``:
  ``register("merge-tombstone", TombstoneOptions)``. ``fusion.yaml`` configures it under
  ``rules: {merge-tombstone: {...}}`` (every datastore) and ``datastores: {NAME: {rules: ...}}``
  (one datastore, merged key by key over the top level); the rule reads the validated instance
  of its view's datastore with ``view.options("merge-tombstone")``.
* a **sync mode** registers its model with its factory: ``register("audit", AuditMode,
  options=AuditOptions)``; a pipe of ``agent.yaml`` configures it under ``modes: {audit: {...}}``
  and the factory is called with the validated instance.

A section that does not validate stops the service with an error naming the full key path
(``datastores.demo.rules.merge-tombstone.ttl_s: Input should be greater than or equal to 0``); a
section under a name nobody registered is an error naming the registered ones, unless the name
is a plugin that was left out on purpose (``FUSTOR_DISABLE_PLUGINS``, ``FUSTOR_PLUGINS``): its
options are then ignored with a warning. An excluded plugin is not imported, so what it would
register is not known: the name is matched against its entry-point and distribution names —
register under your entry point's name (``merge-tombstone``), or name the entry point
``<anything>-<name>`` (entry point ``sync-audit`` registers the mode ``audit``).

Derive options models from :class:`fustor_core.config.FustorConfig`, so that a misspelt key is an
error rather than a silently ignored setting, and give every field a default: a plugin must run
unconfigured.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Protocol, TypeVar

import pluggy
from pydantic import BaseModel, ValidationError

from fustor_core.errors import ConfigError, PluginError
from fustor_core.logs import log_event
from fustor_core.plugins import OptionsModel, collect_registrations, plugin_origin

ModelT = TypeVar("ModelT", bound=BaseModel)


def rule_option_models(pm: pluggy.PluginManager) -> dict[str, OptionsModel]:
    """Rule name -> options model, from every plugin's ``fustor_rule_options``."""
    registered = collect_registrations(pm, "fustor_rule_options", "rule options")
    models: dict[str, OptionsModel] = {}
    for name, registration in registered.items():
        model = registration.value
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise PluginError(
                f"plugin {plugin_origin(pm, registration.plugin)}: the options of rule {name!r} must be a"
                f" pydantic model class, got {model!r}"
            )
        models[name] = model
    return models


def default_options(models: Mapping[str, OptionsModel]) -> dict[str, BaseModel]:
    """Every model with its defaults (a plugin nobody configured)."""
    return {name: build_options(model, None, where=name) for name, model in models.items()}


def build_options(
    model: type[ModelT],
    section: Mapping[str, Any] | None,
    *,
    where: str,
    aliases: Mapping[str, str] | None = None,
) -> ModelT:
    """Validate one plugin's section (None: all defaults) into ``model``.

    :param where: the section's key path, e.g. ``datastores.demo.rules.merge-tombstone``; each
        problem of the :class:`ConfigError` is named by the full path of its key.
    :param aliases: key -> the deprecated key it was given as (named in the error instead).
    """
    if section is not None and not isinstance(section, Mapping):
        raise ConfigError(f"{where}: expected a mapping of options, got {type(section).__name__}")
    try:
        return model.model_validate(dict(section or {}))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = [str(part) for part in error["loc"]]
            alias = (aliases or {}).get(loc[0]) if loc else None
            if alias is not None and len(loc) == 1:
                key = f"{alias} (deprecated; now {where}.{loc[0]})"
            else:
                key = ".".join([where, *loc])
            problems.append(f"{key}: {error['msg']}")
        raise ConfigError("; ".join(problems)) from None


def check_names(
    sections: Iterable[str],
    registered: Collection[str],
    *,
    where: str,
    kind: str,
    excluded: Collection[str],
    logger: logging.Logger,
    registered_label: str | None = None,
) -> list[str]:
    """The configured names that are registered; a name nobody registered is a ConfigError naming
    the registered ones, unless it is a plugin left out on purpose (then a warning)."""
    known: list[str] = []
    for name in sections:
        if name in registered:
            known.append(name)
        elif any(plugin == name or plugin.endswith(f"-{name}") for plugin in excluded):
            log_event(
                logger,
                logging.WARNING,
                f"options of a {kind} that is not loaded are ignored",
                key=f"{where}.{name}",
                reason="the plugin is excluded (FUSTOR_DISABLE_PLUGINS / FUSTOR_PLUGINS)",
            )
        else:
            choices = ", ".join(sorted(registered)) or "none"
            label = registered_label or f"installed {kind}s"
            raise ConfigError(f"{where}.{name}: no {kind} {name!r} is installed ({label}: {choices})")
    return known


LegacyKeys = Mapping[str, tuple[str, str]]
"""Deprecated flat key -> (plugin name, option key) it now lives under."""


def fold_legacy_keys(
    given: Mapping[str, Any],
    legacy: LegacyKeys,
    sections: dict[str, Any],
    *,
    where: str,
    default_on: bool = True,
) -> dict[str, dict[str, str]]:
    """Move the deprecated flat keys present in ``given`` into ``sections`` (plugin -> options).

    A plugin's section may be a mapping (options), ``None``/``True`` (defaults) or ``False``
    (turned off: the old key has no effect, as it would have none on a mode that does not run);
    an absent section is created unless ``default_on`` is False (every other plugin is off).
    Giving an option both ways is an error. Returns plugin -> {option key: deprecated key}, what
    :func:`build_options` needs to name the key the user wrote.
    """
    aliases: dict[str, dict[str, str]] = {}
    for old, (plugin, key) in legacy.items():
        if old not in given or given[old] is None:
            continue
        if plugin in sections:
            section = sections[plugin]
        elif default_on:
            section = None
        else:
            continue  # every plugin not named is off
        if section is False:
            continue
        if section is None or section is True:
            section = sections[plugin] = {}
        if not isinstance(section, dict):
            continue  # reported as not a mapping when the section is validated
        if key in section:
            raise ValueError(
                f"{old} is a deprecated spelling of {where}.{plugin}.{key}; give only the latter"
            )
        section[key] = given[old]
        aliases.setdefault(plugin, {})[key] = old
    return aliases


def deprecation_notes(
    given: Iterable[str], legacy: LegacyKeys, *, prefix: str, where: str
) -> list[tuple[str, str]]:
    """(deprecated key, the key to use instead) for each deprecated key present in ``given``."""
    return [
        (f"{prefix}{old}", f"{where}.{plugin}.{key}") for old, (plugin, key) in legacy.items() if old in given
    ]


def log_deprecations(logger: logging.Logger, notes: Iterable[tuple[str, str]], *, source: str) -> None:
    """One warning per deprecated key, naming the key to use instead (logged once, at start)."""
    for old, new in notes:
        log_event(logger, logging.WARNING, "deprecated config key", config=source, key=old, use=new)


class _HasOptions(Protocol):
    def options(self, name: str) -> Any: ...


def view_options(view: _HasOptions, name: str, model: type[ModelT]) -> ModelT:
    """``view.options(name)``, typed: a rule's one-line accessor to its own options::

    def options_of(view: ViewLike) -> TombstoneOptions:
        return view_options(view, "merge-tombstone", TombstoneOptions)
    """
    options = view.options(name)
    if not isinstance(options, model):
        raise PluginError(
            f"the options registered as {name!r} are a {type(options).__name__}, not {model.__name__}"
        )
    return options


RegisterRuleOptions = Callable[[str, OptionsModel], None]
"""The ``register`` callback of ``fustor_rule_options``: ``register("merge-tombstone", Model)``."""

__all__ = [
    "LegacyKeys",
    "OptionsModel",
    "RegisterRuleOptions",
    "build_options",
    "check_names",
    "default_options",
    "deprecation_notes",
    "fold_legacy_keys",
    "log_deprecations",
    "rule_option_models",
    "view_options",
]
