"""The spec stage: YAML text -> source map -> expanded entries -> a validated, frozen
:class:`Spec`. Torch-free. ``load.py`` is the entry point; the other modules are its steps
(``source`` parses, ``expand`` resolves vars/blocks/repeat, ``sections`` holds the
``input``/``data``/``train`` models, ``overrides`` applies ``--set``, ``data_check`` checks
the ``data:`` section against the sources, the input and the task without loading data)."""

from __future__ import annotations

from netspec.spec.load import LayerSpec, Spec, SpecSource, load_spec, load_spec_text

__all__ = ["LayerSpec", "Spec", "SpecSource", "load_spec", "load_spec_text"]
