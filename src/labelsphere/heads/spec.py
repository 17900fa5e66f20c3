"""Head specs: ``"embedding[loss=softmax,lr=0.01,pmi=positive]"`` parsed and checked, before any data.

A spec is a registered head name with optional ``key=value`` options (values read as JSON
where they parse: ``true``, ``0.5``, ``[64]``). Each key goes to exactly one place, in this
order: a ``TrainConfig`` field (``lr``, ``dropout``, ``hidden``, ``n_components``...), an
argument of the head's class (``loss``, ``bias``...), or a ``LabelEmbedding`` parameter of the
heads built on the PMI embedding (``pmi``, ``diagonal``, ``n_iter``...). An unknown key, a key
the head name fixes, or a bad value is a ``ValueError`` naming it, raised by
:func:`parse_head_spec`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from labelsphere.heads.registry import (
    check_options,
    embedding_parameters,
    head_entry,
    head_parameters,
)

if TYPE_CHECKING:
    from labelsphere.train.config import TrainConfig

__all__ = ["HeadSpec", "parse_head_spec", "split_specs"]

# TrainConfig fields a spec may not set: they are the spec itself.
_NOT_OVERRIDABLE = {"head", "head_options", "embedding_options"}


@dataclass
class HeadSpec:
    """A head to train: its name, options and config overrides, parsed from a spec string.

    ``overrides`` are ``TrainConfig`` fields; a spec that sets ``lr`` skips ``compare``'s
    learning-rate search. ``config(base)`` applies the spec to a shared base config.
    """

    spec: str
    head: str
    head_options: dict[str, Any] = field(default_factory=dict)
    embedding_options: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)

    def config(self, base: TrainConfig, **kw: Any) -> TrainConfig:
        """``base`` with this head, its options and overrides (``kw`` wins over both)."""
        return replace(
            base,
            head=self.head,
            head_options={**base.head_options, **self.head_options},
            embedding_options={**base.embedding_options, **self.embedding_options},
            **{**self.overrides, **kw},
        )


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _config_fields() -> set[str]:
    from labelsphere.train.config import TrainConfig

    return {f.name for f in dataclasses.fields(TrainConfig)} - _NOT_OVERRIDABLE


def parse_head_spec(spec: str) -> HeadSpec:
    """Parse and check ``name`` or ``name[key=value,...]``.

    Examples:
        >>> s = parse_head_spec("embedding[loss=softmax,lr=0.01,n_iter=4]")
        >>> s.head_options, s.overrides, s.embedding_options
        ({'loss': 'softmax'}, {'lr': 0.01}, {'n_iter': 4})
        >>> parse_head_spec("sigmoid[pmi=positive]")
        Traceback (most recent call last):
        ...
        ValueError: head spec 'sigmoid[pmi=positive]': head 'sigmoid' has no option 'pmi'; valid: TrainConfig fields, head options ['prior_bias'], label-embedding options none
    """
    s = spec.strip()
    name, opts = s, ""
    if "[" in s:
        if not s.endswith("]"):
            raise ValueError(f"head spec {spec!r}: expected name[key=value,...]")
        name, opts = s[:-1].split("[", 1)
    try:
        entry = head_entry(name)
    except ValueError as e:
        raise ValueError(f"head spec {spec!r}: {e}") from None
    out = HeadSpec(spec=s, head=name)
    config_keys = _config_fields()
    head_keys = set(head_parameters(name)) | set(entry.fixed)
    embedding_keys = set(embedding_parameters(name)) | set(entry.embedding_fixed)
    for item in filter(None, (p.strip() for p in split_specs(opts))):
        if "=" not in item:
            raise ValueError(f"head spec {spec!r}: option {item!r} is not key=value")
        key, raw = (t.strip() for t in item.split("=", 1))
        value = _value(raw)
        if key in config_keys:
            if key == "hidden":  # one width (hidden=1024) or a list of them (hidden=[512,512])
                value = tuple(value) if isinstance(value, list) else (value,)
            out.overrides[key] = value
        elif key in head_keys:
            out.head_options[key] = value
        elif key in embedding_keys:
            out.embedding_options[key] = value
        else:
            raise ValueError(
                f"head spec {spec!r}: head {name!r} has no option {key!r}; valid: TrainConfig "
                f"fields, head options {head_parameters(name) or 'none'}, label-embedding "
                f"options {embedding_parameters(name) or 'none'}"
            )
    try:
        check_options(name, out.head_options, out.embedding_options)
        if out.overrides:
            from labelsphere.train.config import TrainConfig

            TrainConfig(head=name, **out.overrides)  # values checked by the config itself
    except (ValueError, TypeError) as e:
        raise ValueError(f"head spec {spec!r}: {e}") from None
    return out


def split_specs(text: str) -> list[str]:
    """Split on commas outside brackets.

    Examples:
        >>> split_specs("embedding[loss=softmax,bias=true],sigmoid")
        ['embedding[loss=softmax,bias=true]', 'sigmoid']
    """
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
        else:
            cur += ch
    out.append(cur)
    return out
