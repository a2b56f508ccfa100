"""The tree decode path (models/hf_tree.py): each distinct prefix runs once per step.

Its rows equal the reference loop's in tests/test_models_fastpath.py (it is one of FAST); here: the
node bookkeeping against brute force, and that the saving is real: on the packaged organism, whose
samples of a problem mostly agree, the body forwards far fewer rows than the reference loop, with
the same tokens.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from supportscope.models import DecodingConfig, HFBackend, SampleRequest
from supportscope.models.config import EngineConfig
from supportscope.models.hf_tree import next_nodes

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 9).flatmap(lambda v: st.lists(st.tuples(st.integers(0, 6), st.integers(0, v - 1)),
                                                      min_size=1, max_size=30).map(lambda r: (v, r))))
def test_next_nodes_against_brute_force(case):
    vocab, rows = case
    parent, tok, row_node = next_nodes(torch.tensor([n for n, _ in rows]), torch.tensor([t for _, t in rows]), vocab)
    pairs = sorted(set(rows))  # distinct (node, token), by node then token
    assert list(zip(parent.tolist(), tok.tolist())) == pairs
    assert [pairs[i] for i in row_node.tolist()] == rows  # every row points at its own (node, token)


def counted(be: HFBackend) -> list[int]:
    """Wrap the backend's body so every forward's row count is recorded (the real forward still runs)."""
    seen: list[int] = []
    body = be._body

    class Counting(torch.nn.Module):
        def forward(self, **kw):
            seen.append(int(kw["input_ids"].shape[0]))
            return body(**kw)

    be._body = Counting()
    return seen


def test_tree_forwards_distinct_prefixes_only():
    from supportscope.organism.exact import organism_backend
    from supportscope.organism.task import OrganismTask

    base = organism_backend(sample_batch_size=256)
    problems = OrganismTask(size=2, seed=0).problems()
    reqs = [SampleRequest(p.id, p.prompt, i) for p in problems for i in range(64)]
    d = DecodingConfig(top_p=0.95, max_new_tokens=8, seed=1)
    out, rows = {}, {}
    for path in ("reference", "tree"):
        be = HFBackend.from_model(base.model, base.tokenizer, base.policy, sample_batch_size=256,
                                  engine=EngineConfig(decode=path))
        rows[path] = counted(be)
        out[path] = be.sample(reqs, d)
    assert [s.token_ids for s in out["tree"]] == [s.token_ids for s in out["reference"]]
    distinct = {(s.problem_id, tuple(s.token_ids)) for s in out["tree"]}
    # a step forwards at most one row per distinct (prompt, prefix): never more than the distinct completions
    assert max(rows["tree"][1:]) <= len(distinct) < len(reqs) // 4
    assert rows["tree"][0] == 256 // 64  # the first batch: each of its 4 prompts prefilled once
    assert sum(rows["tree"]) * 4 < sum(rows["reference"])


def test_draws_in_blocks_equal_one_draw(monkeypatch):
    """draw_rows in blocks of rows gives the tokens of one inverse_cdf over every row's node distribution."""
    import supportscope.models.hf_tree as tree
    from supportscope.models.sampling import inverse_cdf

    g = torch.Generator().manual_seed(0)
    dec = torch.log_softmax(torch.randn(5, 11, generator=g), -1)
    dec[1, 3:] = -float("inf")  # a truncated distribution draws only from what it keeps
    node = torch.randint(0, 5, (37,), generator=g)
    u = torch.rand(37, generator=g, dtype=torch.float64)
    whole = inverse_cdf(dec[node], u)
    monkeypatch.setattr(tree, "DRAW_BLOCK", 22)  # two rows per block
    assert torch.equal(tree.draw_rows(dec, node, u), whole)
    assert all(t < 3 for t, n in zip(whole.tolist(), node.tolist()) if n == 1)
