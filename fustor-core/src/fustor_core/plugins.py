"""The plugin manager: every behaviour is loaded through entry points of group ``fustor``.

Which plugins load can be narrowed for tests and for "run without rule X":

* ``FUSTOR_PLUGINS=a,b`` — load only these entry points (by entry-point or distribution name);
* ``FUSTOR_DISABLE_PLUGINS=merge-tombstone`` — load everything except these;

or the same through the ``only=`` / ``exclude=`` arguments, which take precedence.

A plugin author's mistakes stop the service at start, with a message that names the plugin
(entry point, distribution and version) instead of a behaviour that silently never happens:

* a plugin whose distribution requires another ``fustor-core`` (its own
  ``Requires-Dist: fustor-core (>=X,<Y)``, so nothing new has to be declared) is refused before
  its code is imported;
* a plugin that fails to import, or whose hook implementation asks for an argument its hook
  does not have;
* an implementation of a hook that does not exist, e.g. a misspelt ``fustor_filter_batchs``
  (pluggy's ``check_pending``), which would otherwise never be called.

``FUSTOR_TRACE_PLUGINS=1`` logs every hook call with the plugins it reached and its duration
(pluggy's hook-call monitoring, through :mod:`logging`), to see which rule a slow batch spends
its time in or whether a hook is called at all.
"""

from __future__ import annotations

import difflib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy
from pydantic import BaseModel

from fustor_core import PROJECT_NAME, hookspecs
from fustor_core.compatibility import core_incompatibility, declared_core_range, describe_range
from fustor_core.errors import PluginError
from fustor_core.logs import log_event

ONLY_ENV = "FUSTOR_PLUGINS"
DISABLE_ENV = "FUSTOR_DISABLE_PLUGINS"
TRACE_ENV = "FUSTOR_TRACE_PLUGINS"

trace_logger = logging.getLogger("fustor_core.plugins.trace")
"""Where ``FUSTOR_TRACE_PLUGINS=1`` sends one line per hook call (level INFO)."""


@dataclass(frozen=True)
class PluginInfo:
    """One plugin, as ``fustor plugins`` shows it."""

    name: str
    """The entry-point name (what ``FUSTOR_PLUGINS`` and ``FUSTOR_DISABLE_PLUGINS`` take)."""
    distribution: str
    version: str
    hooks: tuple[str, ...] = field(default=())
    entry_point: str = ""
    """What the entry point refers to, e.g. ``fustor_merge_tombstone``."""
    core: str | None = None
    """The ``fustor-core`` range the distribution declares (``>=0.1,<0.2``); None if it declares none."""
    error: str | None = None
    """Why the plugin is unusable (refused, failed to load, unknown hook); None when it is fine."""

    @property
    def origin(self) -> str:
        """Who to blame: ``'alpha' (distribution fake-alpha 1.2.3, entry point fake_alpha)``."""
        if not self.entry_point:
            return f"{self.name!r} ({self.distribution})"
        return (
            f"{self.name!r} (distribution {self.distribution} {self.version}, entry point {self.entry_point})"
        )

    def as_json_obj(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "distribution": self.distribution,
            "version": self.version,
            "entry_point": self.entry_point,
            "core": self.core,
            "hooks": list(self.hooks),
            "error": self.error,
        }


# --------------------------------------------------------------------------------------------
# the manager
# --------------------------------------------------------------------------------------------


def entry_point_info(ep: EntryPoint) -> PluginInfo:
    """What an entry point's distribution says about it, before anything is imported."""
    dist = ep.dist
    wanted = declared_core_range(dist)
    return PluginInfo(
        name=ep.name,
        distribution=dist.name if dist is not None else "?",
        version=dist.version if dist is not None else "?",
        entry_point=ep.value,
        core=describe_range(wanted) if wanted is not None else None,
    )


class FustorPluginManager(pluggy.PluginManager):
    """A pluggy manager that knows where each plugin came from and checks it on the way in.

    ``strict`` (what services use) turns the first problem into a :class:`PluginError`; without
    it (``fustor plugins``) problems are kept on the plugins' :class:`PluginInfo` so that one
    listing shows them all.
    """

    def __init__(self, *, strict: bool = True) -> None:
        super().__init__(PROJECT_NAME)
        self.add_hookspecs(hookspecs)
        self.strict = strict
        self._infos: dict[str, PluginInfo] = {}
        self._refused: dict[str, PluginInfo] = {}
        self.excluded: set[str] = set()
        """Entry-point and distribution names of the plugins left out by ``only`` / ``exclude``
        (their configured options are ignored with a warning instead of being an error)."""

    # -- loading --------------------------------------------------------------------------------

    def load_entry_points(self, *, only: set[str] | None = None, exclude: set[str] | None = None) -> None:
        """Register the plugins of group ``fustor`` selected by ``only`` / ``exclude``."""
        for ep in sorted(entry_points(group=PROJECT_NAME), key=lambda e: e.name):
            if (only is not None and not _matches(ep, only)) or (exclude and _matches(ep, exclude)):
                self.excluded.add(ep.name)
                if ep.dist is not None:
                    self.excluded.add(ep.dist.name)
                continue
            if self.has_plugin(ep.name) or ep.name in self._refused:
                continue
            self.register_entry_point(ep)

    def register_entry_point(self, ep: EntryPoint) -> None:
        """Check the distribution's core range, import the plugin and register it."""
        info = entry_point_info(ep)
        incompatible = core_incompatibility(ep.dist)
        if incompatible is not None:
            self._refuse(info, incompatible)
            return
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must say who it is
            self._refuse(info, f"failed to load: {type(exc).__name__}: {_one_line(exc)}")
            return
        try:
            self.register(plugin, name=ep.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._refuse(info, f"rejected by the hook specifications: {_one_line(exc)}")
            return
        self._infos[ep.name] = info

    def _refuse(self, info: PluginInfo, error: str) -> None:
        if self.strict:
            raise PluginError(f"plugin {info.origin}: {error}")
        self._refused[info.name] = replace(info, error=error)

    # -- checking -------------------------------------------------------------------------------

    def unknown_hooks(self) -> dict[str, list[str]]:
        """Plugin name -> hook implementations that match no hook specification."""
        unknown: dict[str, list[str]] = {}
        for name, caller in vars(self.hook).items():
            if name.startswith("_") or not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
                continue
            for impl in caller.get_hookimpls():
                if not impl.optionalhook:
                    unknown.setdefault(impl.plugin_name, []).append(name)
        return unknown

    def check_hooks(self) -> None:
        """pluggy's ``check_pending``, with an answer that names the plugin and the hook."""
        try:
            self.check_pending()
        except pluggy.PluginValidationError:
            problems = {name: _unknown_hook_message(hooks) for name, hooks in self.unknown_hooks().items()}
            if self.strict:
                raise PluginError(
                    problems_message(
                        [f"plugin {self.info(name).origin}: {text}" for name, text in problems.items()]
                    )
                ) from None
            for name, text in problems.items():
                self._infos[name] = replace(self.info(name), error=text)

    # -- describing -----------------------------------------------------------------------------

    def info(self, name: str) -> PluginInfo:
        """Where the plugin registered as ``name`` came from."""
        known = self._infos.get(name)
        if known is None:
            known = PluginInfo(name=name, distribution="(registered in code)", version="-")
        return known

    def describe(self) -> list[PluginInfo]:
        """Registered plugins with their hooks, and refused ones with their error, by name."""
        described = [
            replace(self.info(name), hooks=tuple(sorted(_hook_names(self, plugin))))
            for name, plugin in self.list_name_plugin()
            if plugin is not None
        ]
        described.extend(self._refused.values())
        return sorted(described, key=lambda info: info.name)

    # -- tracing --------------------------------------------------------------------------------

    def trace_hook_calls(self, logger: logging.Logger = trace_logger) -> Callable[[], None]:
        """Log each hook call (plugins reached, milliseconds, error); returns the undo function."""
        local = threading.local()  # hooks nest (a rule may call another hook) and run in threads

        def before(hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]) -> None:
            stack: list[float] = local.__dict__.setdefault("started", [])
            stack.append(time.perf_counter())

        def after(
            outcome: pluggy.Result[Any],
            hook_name: str,
            impls: Sequence[pluggy.HookImpl],
            kwargs: Mapping[str, Any],
        ) -> None:
            elapsed_ms = (time.perf_counter() - local.started.pop()) * 1000
            fields: dict[str, Any] = {
                "hook": hook_name,
                "plugins": ",".join(impl.plugin_name for impl in reversed(impls)) or "-",
                "ms": f"{elapsed_ms:.3f}",
            }
            if outcome.exception is not None:
                fields["error"] = type(outcome.exception).__name__
            log_event(logger, logging.INFO, "hook call", **fields)

        return self.add_hookcall_monitoring(before, after)


def _one_line(exc: BaseException) -> str:
    """pluggy's messages span lines; an error line on stderr (or in a listing) must not."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def _unknown_hook_message(hooks: list[str]) -> str:
    known = [name for name in dir(hookspecs) if name.startswith("fustor_")]
    parts = []
    for hook in sorted(hooks):
        close = difflib.get_close_matches(hook, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else "no such hook in fustor_core.hookspecs"
        parts.append(f"{hook!r} ({hint})")
    return f"implements unknown hook{'s' if len(parts) > 1 else ''} {', '.join(parts)}"


def problems_message(problems: list[str]) -> str:
    """One problem on one line; several as a count and one indented line each."""
    if len(problems) == 1:
        return problems[0]
    return f"{len(problems)} plugins are unusable:\n  " + "\n  ".join(problems)


def _names_from_env(variable: str) -> set[str] | None:
    raw = os.environ.get(variable)
    if raw is None:
        return None
    return {part.strip() for part in raw.split(",") if part.strip()}


def _env_flag(variable: str) -> bool:
    return os.environ.get(variable, "").strip().lower() not in ("", "0", "false", "no", "off")


def _matches(ep: EntryPoint, names: set[str]) -> bool:
    dist = ep.dist.name if ep.dist is not None else ""
    return ep.name in names or dist in names


def _hook_names(pm: pluggy.PluginManager, plugin: object) -> set[str]:
    return {caller.name for caller in pm.get_hookcallers(plugin) or []}


def get_plugin_manager(
    *,
    only: Iterable[str] | None = None,
    exclude: Iterable[str] | None = None,
    extra: Iterable[Any] = (),
    strict: bool = True,
    trace: bool | None = None,
) -> FustorPluginManager:
    """A plugin manager with the hookspecs and the selected installed plugins, checked.

    :param only: load only these plugins (entry-point or distribution names); default
        ``FUSTOR_PLUGINS``, else all.
    :param exclude: do not load these plugins; default ``FUSTOR_DISABLE_PLUGINS``.
    :param extra: plugin objects to register in addition (tests, embedded use).
    :param strict: raise :class:`PluginError` for the first broken plugin (services); without
        it the problems are reported by :meth:`FustorPluginManager.describe`.
    :param trace: log every hook call; default ``FUSTOR_TRACE_PLUGINS``.
    """
    pm = FustorPluginManager(strict=strict)
    only_names = set(only) if only is not None else _names_from_env(ONLY_ENV)
    excluded = set(exclude) if exclude is not None else (_names_from_env(DISABLE_ENV) or set())
    pm.load_entry_points(only=only_names, exclude=excluded)
    for plugin in extra:
        pm.register(plugin)
    pm.check_hooks()
    if trace if trace is not None else _env_flag(TRACE_ENV):
        pm.trace_hook_calls()
    return pm


def describe_plugins(pm: pluggy.PluginManager) -> list[PluginInfo]:
    """The plugins of ``pm`` with their distribution, version, hooks and problems."""
    if isinstance(pm, FustorPluginManager):
        return pm.describe()
    return sorted(
        (
            PluginInfo(name, "(registered in code)", "-", tuple(sorted(_hook_names(pm, plugin))))
            for name, plugin in pm.list_name_plugin()
            if plugin is not None
        ),
        key=lambda info: info.name,
    )


OptionsModel = type[BaseModel]
"""A plugin's options model: a pydantic model class whose every field has a default."""


@dataclass(frozen=True)
class Registration:
    """One name registered through a ``register``-style hook, and who registered it."""

    name: str
    value: Any
    """What was registered: a factory, or (``fustor_rule_options``) the options model."""
    plugin: str
    """The registering plugin's name (its entry-point name for installed plugins)."""
    options: OptionsModel | None = None
    """The options model registered with a factory (``register(name, factory, options=Model)``)."""


def collect_registrations(pm: pluggy.PluginManager, hook_name: str, kind: str) -> dict[str, Registration]:
    """Call the ``register``-style hook ``hook_name`` of every plugin and collect what it registers.

    Each plugin is given its own ``register`` callback, so that two plugins registering the same
    name are a :class:`PluginError` naming both (the service refuses to start).
    """
    registry: dict[str, Registration] = {}
    for plugin, call in hook_callers_by_plugin(pm, hook_name):

        def register(
            name: str, value: Any, *, options: OptionsModel | None = None, _plugin: str = plugin
        ) -> None:
            earlier = registry.get(name)
            if earlier is not None:
                raise PluginError(
                    f"two plugins register the {kind} {name!r}: {plugin_origin(pm, earlier.plugin)}"
                    f" and {plugin_origin(pm, _plugin)}"
                )
            if options is not None and not (isinstance(options, type) and issubclass(options, BaseModel)):
                raise PluginError(
                    f"plugin {plugin_origin(pm, _plugin)}: the options of {kind} {name!r} must be a pydantic"
                    f" model class, got {options!r}"
                )
            registry[name] = Registration(name, value, _plugin, options)

        call(register=register)
    return registry


def require_registry(pm: pluggy.PluginManager, hook_name: str, kind: str) -> dict[str, Any]:
    """Collect a ``register``-style hook (sources, pushers, sync modes) into a name -> factory map.

    Two plugins registering one name are a :class:`PluginError` naming both; the options models
    registered beside factories are in :func:`fustor_core.options.collect_registrations`.
    """
    return {name: reg.value for name, reg in collect_registrations(pm, hook_name, kind).items()}


def call_each(pm: pluggy.PluginManager, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
    """Call hook ``hook_name`` plugin by plugin, in pluggy's calling order, and say who answered
    what: ``[(plugin name, its result or None)]``.

    For the checks that must name the plugins behind a conflict (two rules giving one flag). Each
    call still goes through pluggy (``subset_hook_caller``), so tracing sees it; wrappers are left
    out.
    """
    answers: list[tuple[str, Any]] = []
    for plugin, call in hook_callers_by_plugin(pm, hook_name):
        results = call(**kwargs)
        answers.append((plugin, results[0] if results else None))
    return answers


def hook_callers_by_plugin(pm: pluggy.PluginManager, hook_name: str) -> list[tuple[str, Callable[..., Any]]]:
    """(plugin name, a caller reaching only that plugin) for each implementation of the hook, in
    pluggy's calling order, wrappers left out. The callers go through pluggy (and its tracing)."""
    impls = getattr(pm.hook, hook_name).get_hookimpls()
    return [
        (
            impl.plugin_name,
            pm.subset_hook_caller(hook_name, remove_plugins=[o.plugin for o in impls if o is not impl]),
        )
        for impl in reversed(impls)
        if not (impl.hookwrapper or impl.wrapper)
    ]


def plugin_origin(pm: pluggy.PluginManager, name: str) -> str:
    """Who to blame for plugin ``name``: its entry point and distribution when known."""
    return pm.info(name).origin if isinstance(pm, FustorPluginManager) else repr(name)


def excluded_plugins(pm: pluggy.PluginManager) -> set[str]:
    """Entry-point and distribution names ``pm`` left out on purpose (empty for a plain manager)."""
    return set(pm.excluded) if isinstance(pm, FustorPluginManager) else set()
