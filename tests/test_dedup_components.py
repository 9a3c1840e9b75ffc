"""Large-star/small-star components equal union-find; survivor ordering of node names."""

import random

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from curate.dedup.components import node_id, node_key, star_rounds, union_find
from curate.pipelines.dedup import Components


def _random_graph(seed):
    r = random.Random(seed)
    nodes = [f"{r.random():.6f}" for _ in range(r.randint(2, 80))]
    edges = [tuple(r.sample(nodes, 2)) for _ in range(r.randint(1, 120))]
    return edges


@pytest.mark.parametrize("seed", range(40))
def test_star_rounds_equal_union_find(seed):
    edges = _random_graph(seed)
    labels, bad = star_rounds(edges, 10)
    assert bad == 0
    assert labels == union_find(edges)


def test_unconverged_rounds_are_detected():
    r = random.Random(1)
    nodes = [f"{i:05d}" for i in range(500)]
    r.shuffle(nodes)
    path = list(zip(nodes, nodes[1:]))
    _, bad = star_rounds(path, 2)
    assert bad > 0
    labels, bad = star_rounds(path, 10)
    assert bad == 0 and set(labels.values()) == {"00000"}


def test_node_key_orders_by_quality_then_length_then_id():
    def d(i, text, q=None):
        return {"id": i, "text": text, "scores": {} if q is None else {"q": q}}

    docs = [d("a", "xx"), d("b", "xxxx"), d("c", "xxxx"), d("e", "x", 0.9), d("f", "x", -2.0), d("g", "xxxxx", 0.1)]
    order = [node_id(n) for n in sorted(node_key(x, "q") for x in docs)]
    assert order == ["e", "g", "f", "b", "c", "a"]
    assert [node_id(n) for n in sorted(node_key(x) for x in docs)] == ["g", "b", "c", "a", "e", "f"]
    assert node_id(node_key({"id": "we|ird", "text": ""})) == "we|ird"
    odd = [{"id": "x", "text": "", "scores": None}, {"id": "y", "text": "", "scores": {"q": "bad"}},
           {"id": "z", "text": "", "scores": {"q": float("nan")}}, {"id": "w", "text": "", "scores": {"q": float("-inf")}}]
    assert [node_id(n) for n in sorted(node_key(x, "q") for x in odd)] == ["w", "x", "y", "z"]


def test_beam_components_match_union_find():
    edges = [e for s in range(5) for e in _random_graph(100 + s)]
    ref = union_find(edges)
    with beam.Pipeline() as p:
        comp = p | beam.Create(edges) | Components(10)
        assert_that(comp["labels"], equal_to(sorted(ref.items())), label="labels")
        assert_that(comp["violations"], equal_to([0]), label="converged")
