"""Each datastore's merge-rule options: ``fusion.yaml``'s sections validated against the rules'
own models (``fustor_rule_options``), once, at start.

``rules:`` at the top level holds every datastore's defaults; ``datastores.NAME.rules`` overrides
keys for one datastore, merged key by key over the top level (``{ttl_s: 60}`` under a datastore
keeps the top level's ``max_entries``). Datastores adopted from a Registry get the top level.
A bad value stops Fusion with the full key path of the section it came from.
"""

from __future__ import annotations

import logging
from typing import Any

import pluggy
from pydantic import BaseModel

from fustor_core.options import build_options, check_names, rule_option_models
from fustor_core.plugins import excluded_plugins
from fustor_fusion.config import DatastoreConfig, FusionConfig, RuleSections

logger = logging.getLogger(__name__)


class RuleOptions:
    """The installed rules' options models and the validated options of each datastore."""

    def __init__(self, config: FusionConfig, pm: pluggy.PluginManager) -> None:
        self.models = rule_option_models(pm)
        self._excluded = excluded_plugins(pm)
        self._top = self._sections(config.rules, where="rules")
        aliases = config.rule_aliases()
        self.top_level: dict[str, BaseModel] = {
            rule: build_options(model, self._top.get(rule), where=f"rules.{rule}", aliases=aliases.get(rule))
            for rule, model in self.models.items()
        }
        """What a datastore without overrides (or adopted from a Registry) gets."""

    def _sections(self, sections: RuleSections, *, where: str) -> dict[str, dict[str, Any]]:
        known = check_names(
            sections,
            self.models,
            where=where,
            kind="rule",
            registered_label="rules with options",
            excluded=self._excluded,
            logger=logger,
        )
        return {rule: dict(sections[rule] or {}) for rule in known}

    def for_datastore(self, name: str, datastore: DatastoreConfig) -> dict[str, BaseModel]:
        """The options of datastore ``name``: its ``rules`` merged over the top level."""
        where = f"datastores.{name}.rules"
        overrides = self._sections(datastore.rules, where=where)
        options = dict(self.top_level)
        for rule, override in overrides.items():
            if override:
                merged = {**self._top.get(rule, {}), **override}
                options[rule] = build_options(self.models[rule], merged, where=f"{where}.{rule}")
        return options
