"""The memo of Beam's DoFn state/timer introspection (curate.pipelines.dofn_specs) answers as Beam does."""

import apache_beam as beam
from apache_beam.coders import VarIntCoder
from apache_beam.testing.util import assert_that, equal_to
from apache_beam.transforms import userstate
from apache_beam.transforms.core import CallableWrapperDoFn

from curate.pipelines import dofn_specs
from curate.pipelines.progress import _Count

COUNT = userstate.ReadModifyWriteStateSpec("count", VarIntCoder())


class _Stateful(beam.DoFn):
    def process(self, kv, count=beam.DoFn.StateParam(COUNT)):
        n = (count.read() or 0) + 1
        count.write(n)
        yield kv[0], n


class _Holder:
    def emit(self, x, count=beam.DoFn.StateParam(COUNT)):
        return x


def test_memo_gives_beams_answer_for_stateful_stateless_and_wrapped_callables():
    beams = dofn_specs._beam_get_dofn_specs
    for fn in (_Stateful(), _Stateful(), _Count("p", "in"), CallableWrapperDoFn(len), CallableWrapperDoFn(_Holder().emit)):
        assert dofn_specs.get_dofn_specs(fn) == beams(fn)
    assert dofn_specs.get_dofn_specs(_Stateful()) == ({COUNT}, set())
    # a bound method held by the instance (Map(obj.method)) is never answered from the class
    assert dofn_specs.get_dofn_specs(CallableWrapperDoFn(_Holder().emit))[0] == {COUNT}
    assert dofn_specs.get_dofn_specs(CallableWrapperDoFn(len)) == (set(), set())


def test_installed_memo_runs_a_stateful_pipeline():
    dofn_specs.install()
    assert userstate.get_dofn_specs is dofn_specs.get_dofn_specs
    with beam.Pipeline() as p:
        out = p | beam.Create([("a", 1), ("a", 2), ("b", 3)]) | beam.ParDo(_Stateful())
        assert_that(out | beam.Filter(lambda kv: kv[0] == "a") | beam.Map(lambda kv: kv[1]) | beam.combiners.ToList()
                    | beam.Map(sorted), equal_to([[1, 2]]))
