"""curate: reasoning-focused pretraining data, from raw pages to Megatron shards.

The import root for every folder of the project: ``curate.extractors``, ``curate.dedup``,
``curate.filters``, ``curate.synth``, ``curate.mixtures``, ``curate.pipelines``,
``curate.pretrain`` and ``curate.configs`` (see setup.cfg).
"""

__version__ = "0.1.0"
