"""Venn sets at k = n and the Invisible Leash support metrics."""

import numpy as np
import pytest

from supportscope.stats import leash_metrics, venn


def test_math500_example_numbers():
    m = leash_metrics(preserved=462, expanded=3, shrunk=19)
    assert m["SRR"] == pytest.approx(462 / 481)
    assert m["NDR"] == pytest.approx(3 / 465)
    assert m["NSCR"] == pytest.approx((3 - 19) / 484)
    srr, ndr = 462 / 481, 3 / 465
    assert m["SDS"] == pytest.approx(2 * srr * ndr / (srr + ndr))


def test_venn():
    cb = np.array([0, 3, 5, 0, 1, 0])
    ct = np.array([2, 0, 5, 0, 1, 0])
    v = venn(cb, ct)
    assert (v.both, v.base_only, v.tuned_only, v.neither) == (2, 1, 1, 2)
    np.testing.assert_array_equal(v.base_only_idx, [1])
    np.testing.assert_array_equal(v.tuned_only_idx, [0])
    np.testing.assert_array_equal(v.neither_idx, [3, 5])
    with pytest.raises(ValueError, match="one entry per problem"):
        venn([1, 2], [1])


def test_degenerate_and_arrays():
    m = leash_metrics(0, 0, 0)
    assert all(np.isnan(m[k]) for k in ("SRR", "NDR", "NSCR", "SDS"))
    m = leash_metrics(0, 0, 5)  # SRR = 0, NDR = 0/0
    assert m["SRR"] == 0 and np.isnan(m["NDR"]) and m["NSCR"] == -1 and np.isnan(m["SDS"])
    m = leash_metrics(10, 0, 5)  # SRR > 0, NDR = 0 -> SDS = 0
    assert m["NDR"] == 0 and m["SDS"] == 0
    m = leash_metrics(np.array([462, 0, 10]), np.array([3, 0, 2]), np.array([19, 0, 0]))
    assert m["SRR"].shape == (3,)
    assert m["SRR"][0] == pytest.approx(462 / 481) and np.isnan(m["SRR"][1]) and m["SRR"][2] == 1.0
    with pytest.raises(ValueError, match="non-negative"):
        leash_metrics(-1, 0, 0)
