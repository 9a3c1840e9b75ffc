"""Beam's DaskRunner with what curate's graphs need from it.

Beam's own DaskRunner (apache_beam.runners.dask.dask_runner, Beam 2.77) translates each
transform into a ``dask.bag`` operation, but

- a ParDo with tagged outputs (``with_outputs``, ``Partition``) puts every output's elements
  into one bag, and each consumer reads all of them, whatever its tag;
- only the last transform applied is computed (with what it depends on): a sink that does not
  lead there never runs;
- its GroupByKey groups with Python's ``hash`` of the key, which differs between worker
  processes for some keys (``None``, the key of every global combine, on Python 3.11), so
  one key's values can end up in several groups;
- a side input is a bag computed again inside each task that reads it, which re-runs its
  producers (their file writes too) and resubmits keys under another spec;
- the ``dask.distributed`` client it opens is never closed.

``DaskRunner`` here keeps the tag of each element a ParDo emits, gives each output
PCollection its own (filtered) bag, passes each side input as one value of the same graph,
groups by a digest of the key's deterministic Beam encoding, computes every leaf in one
unoptimised compute, and closes its client when the pipeline finishes. curate uses it
whenever the Beam arguments name Beam's DaskRunner (``curate.pipelines.runner.pipeline``).
"""

from __future__ import annotations

import dataclasses
import hashlib

from apache_beam import DoFn, coders, pvalue
from apache_beam.pvalue import TaggedOutput
from apache_beam.runners.common import DoFnContext, DoFnInvoker, DoFnSignature, _OutputHandler
from apache_beam.runners.dask import dask_runner as beam_dask
from apache_beam.runners.dask import transform_evaluator as te
from apache_beam.runners.dask.overrides import _GroupByKeyOnly, dask_overrides
from apache_beam.pipeline import PipelineVisitor
from apache_beam.runners.runner import PipelineState
from apache_beam.transforms.sideinputs import SideInputMap


def _bundle(items, fn, label, window_fn, args, kwargs, side_specs, *side_values):
    """``te.apply_dofn_to_bundle`` keeping each element's output tag (None: the main output),
    with side inputs given as their computed values (``side_values``, one list each). The
    receivers are made here, per bundle: a graph's arguments may be shared by the bundles
    one worker runs."""
    side = [SideInputMap(kind, opts, [te.get_windowed_value(v, wfn) for v in values])
            for (kind, opts, wfn), values in zip(side_specs, side_values)]
    receivers = te.OneReceiver()
    handler = _OutputHandler(window_fn=window_fn, main_receivers=receivers[None], tagged_receivers=receivers,
                             per_element_output_counter=None, output_batch_converter=None,
                             process_yields_batches=False, process_batch_yields_elements=False)
    invoker = DoFnInvoker.create_invoker(
        DoFnSignature(fn), handler, context=DoFnContext(label, state=None), side_inputs=side, input_args=list(args),
        input_kwargs=kwargs, user_state_context=None, bundle_finalizer_param=DoFn.BundleFinalizerParam())
    invoker.invoke_setup()
    invoker.invoke_start_bundle()
    for it in items:
        invoker.invoke_process(it)
    invoker.invoke_finish_bundle()
    invoker.invoke_teardown()
    return [(v.tag, v.value.value) if isinstance(v, TaggedOutput) else (None, v.value) for v in receivers.values]


_KEY_CODER = coders.FastPrimitivesCoder().as_deterministic_coder("GroupByKey on Dask")


def _key_digest(item) -> int:
    return int.from_bytes(hashlib.blake2b(_KEY_CODER.encode(item[0]), digest_size=8).digest(), "big")


def _regroup(group):
    """One digest's (key, windowed value) items → (key, values) per key."""
    out: dict = {}
    for k, v in group[1]:
        out.setdefault(k, []).append(te.defenestrate(v))
    return list(out.items())


class _GroupByKey(te.DaskBagOp):
    """GroupByKey on a digest of each key's deterministic encoding, the same in every process."""

    def apply(self, input_bag, side_inputs=None):
        return input_bag.groupby(_key_digest).map(_regroup).flatten()


_TRANSLATIONS = {**te.TRANSLATIONS, _GroupByKeyOnly: _GroupByKey}


def _select(pairs, tag):
    return [v for t, v in pairs if t == tag]


def _tag_of(pc) -> str | None:
    return None if pc.tag in (None, "None") else pc.tag


@dataclasses.dataclass
class _Visitor(PipelineVisitor):
    """Each PCollection → its dask bag (a ParDo's outputs filtered from its tagged pairs)."""

    bag_kwargs: dict
    bags: dict = dataclasses.field(default_factory=dict)  # PCollection (its producer and tag) → bag
    read: set = dataclasses.field(default_factory=set)
    made: list = dataclasses.field(default_factory=list)

    def _bag(self, pc):
        return self.bags.get(pc)

    def visit_transform(self, node) -> None:
        op_class = _TRANSLATIONS.get(node.transform.__class__, te.NoOp)
        kws = {"input_bag": None, "side_inputs": None}
        inputs = list(node.inputs)
        self.read.update(inputs)
        if inputs:
            bags = [None if isinstance(pc, pvalue.PBegin) else self._bag(pc) for pc in inputs]
            bags = [b for b in bags if b is not None] or [None]
            kws["input_bag"] = bags[0] if len(bags) == 1 and op_class is not te.Flatten else bags
        if node.side_inputs:
            # one value of the same graph each (see the module docstring)
            self.read.update(si.pvalue for si in node.side_inputs)
            kws["side_inputs"] = [((type(si), si._view_options(), si._window_mapping_fn),
                                   self._bag(si.pvalue).reduction(list, _concat)) for si in node.side_inputs]
        if op_class is te.ParDo:
            out = _pardo(node, self.bag_kwargs, **kws)
            for pc in node.outputs.values():
                if isinstance(pc, pvalue.PCollection):
                    self.bags[pc] = out.map_partitions(_select, _tag_of(pc))
                    self.made.append(pc)
        else:
            out = op_class(node, bag_kwargs=self.bag_kwargs).apply(**kws)
            for pc in node.outputs.values():
                if isinstance(pc, pvalue.PCollection):
                    self.bags[pc] = out
                    self.made.append(pc)

    def leaves(self) -> list:
        return [self.bags[pc] for pc in self.made if pc not in self.read]


def _concat(parts):
    return [v for part in parts for v in part]


def _pardo(node, bag_kwargs, input_bag, side_inputs=None):
    """Beam's ParDo translation (te.ParDo.apply) with ``_bundle`` as its bundle function."""
    transform = node.transform
    args, kwargs = transform.raw_side_inputs
    main_input = next(iter(node.main_inputs.values()))
    window_fn = main_input.windowing.windowfn if hasattr(main_input, "windowing") else None
    side_inputs = side_inputs or []
    return input_bag.map(te.get_windowed_value, window_fn).map_partitions(
        _bundle, transform.fn, transform.label, window_fn, args, kwargs, [spec for spec, _ in side_inputs],
        *[value for _, value in side_inputs])


@dataclasses.dataclass
class _Result(beam_dask.DaskRunnerResult):
    """Beam's result, closing the client once the pipeline has finished (or failed)."""

    def wait_until_finish(self, duration=None) -> str:
        try:
            return super().wait_until_finish(duration)
        finally:
            if self._state in (PipelineState.DONE, PipelineState.FAILED):
                self.client.close()


class DaskRunner(beam_dask.DaskRunner):
    """Runs a pipeline on a ``dask.distributed`` cluster (``--dask_client_address``)."""

    def run_pipeline(self, pipeline, options):
        import dask.distributed as ddist

        dask_options = options.view_as(beam_dask.DaskOptions).get_all_options(drop_default=True, current_only=True)
        bag_kwargs = beam_dask.DaskOptions._extract_bag_kwargs(dask_options)
        client = ddist.Client(**dask_options)
        pipeline.replace_all(dask_overrides())
        visitor = _Visitor(bag_kwargs)
        pipeline.visit(visitor)
        # Every leaf in one compute, unoptimised: fusion copies a task shared by several
        # consumers into each, and copies of a Reshuffle (random keys) disagree.
        return _Result(client, client.compute(visitor.leaves(), optimize_graph=False))
