"""Smoke tests of ``python -m fastloss.bench``, ``python -m fastloss demo`` and the bundled data."""
import re
import subprocess
import sys

import numpy as np
import pytest

from fastloss import bench
from fastloss import __main__ as cli
from fastloss.datasets import make_blobs_dataset

ROW = re.compile(r"^\| (\d+x\d+) +\| (float32|float64) +\| (\S+) +\|(.*)\|$")


def _rows(text):
    """Parsed table rows: (shape, dtype, implementation, [other cells])."""
    rows = []
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            rows.append((m[1], m[2], m[3], [c.strip() for c in m[4].split("|")]))
    return rows


def test_bench_quick(capsys):
    assert bench.main(["--quick", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "CPU:" in out and "openmp_enabled=" in out
    assert "| shape" in out and "vs numpy" in out
    rows = _rows(out)
    cases = {(f"{n}x{c}", d) for n, c in bench.QUICK_SHAPES for d in bench.DTYPES}
    assert {(s, d) for s, d, _, _ in rows} == cases
    for shape, dtype in cases:
        impls = {i for s, d, i, _ in rows if (s, d) == (shape, dtype)}
        assert {"fastloss", "numpy"} <= impls <= {"fastloss", "numpy", "sklearn", "torch"}
    for _, _, impl, cells in rows:
        ms, min_ms, ratio = cells[:3]
        assert 0 < float(min_ms) <= float(ms)
        assert ratio.endswith("x") and float(ratio[:-1]) > 0
        if impl == "numpy":
            assert ratio == "1.00x"


def test_bench_compare_one_case(capsys):
    assert bench.main(["--quick", "--compare", "--repeat", "1", "--dtype", "float32",
                       "--shapes", "2000x100"]) == 0
    out = capsys.readouterr().out
    assert "vs best peer" in out and "% copy bw" in out and "% read bw" in out
    rows = _rows(out)
    impls = [i for _, _, i, _ in rows]
    assert impls.count("fastloss") == 2 and impls.count("numpy") == 2  # loss+grad, loss only
    assert "fastloss[1t]" in impls and "fastloss[out,1t]" in impls
    assert {"floor:copy", "floor:copy[1t]", "floor:fresh_copy"} <= set(impls)
    for _, _, impl, cells in rows:
        if impl.startswith("fastloss"):
            assert any(re.fullmatch(r"\d+%", c) for c in cells), cells


def test_bench_estimators_quick(capsys):
    assert bench.main(["--estimators", "--quick", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in out.splitlines()
            if line.startswith("|") and ("fastloss" in line or "numpy" in line
                                         or "sklearn" in line)]
    rows = [r for r in rows if r[1] != "implementation"]  # not the header
    impls = {r[1] for r in rows}
    assert {"fastloss", "numpy"} <= impls
    for problem in {r[0] for r in rows}:
        mine = [r for r in rows if r[0] == problem]
        assert mine[0][1] == "fastloss" and float(mine[0][6]) == 0.0
        for r in mine:  # every solver reaches the same objective and test accuracy
            assert abs(float(r[6])) <= 1e-6, r
            assert float(r[8]) == pytest.approx(float(mine[0][8]), abs=1e-3), r


def test_bench_parse_shapes():
    assert bench.parse_shapes("1e6x10, 1024x32000") == [(1_000_000, 10), (1024, 32000)]
    with pytest.raises(SystemExit):
        bench.main(["--shapes", "10by10"])


def test_sklearn_loss_is_full_cross_entropy():
    """The bench's claim: HalfMultinomialLoss is the full (not half) cross-entropy."""
    pytest.importorskip("sklearn")
    import fastloss

    logits, target = bench.make_case(50, 7, "float64")
    loss, grad = bench._sklearn_loss_grad(logits, target, 1)()
    ref_loss, ref_grad = fastloss.cross_entropy(logits, target, reduction="sum",
                                                return_grad=True)
    np.testing.assert_allclose(loss.sum(), ref_loss, rtol=1e-12)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-10, atol=1e-15)


@pytest.mark.parametrize("bundled", [False, True])
def test_demo_fits_reports_and_times(capsys, bundled):
    if not bundled:
        pytest.importorskip("sklearn")
    assert cli.main(["demo", "--repeat", "1"] + (["--bundled"] if bundled else [])) == 0
    out = capsys.readouterr().out
    objectives = [float(x) for x in re.findall(r"^iter +\d+ +objective (\S+)", out, re.M)]
    assert len(objectives) >= 20
    assert all(b <= a for a, b in zip(objectives, objectives[1:]))  # L-BFGS-B descends
    m = re.search(r"converged in (\d+) iterations: objective (\S+); "
                  r"train accuracy ([\d.]+), test accuracy ([\d.]+)", out)
    assert m, out
    assert int(m[1]) == len(objectives) and float(m[2]) == pytest.approx(objectives[-1])
    assert float(m[4]) > 0.9  # measured: 0.978 (sklearn digits), 0.951 (generated)
    peer = "sklearn LogisticRegression" if not bundled else "NumPy reference objective"
    assert peer in out
    accs = re.findall(r"objective (\S+) +test accuracy ([\d.]+)", out)
    assert len(accs) == 2
    (ours_obj, ours_acc), (peer_obj, peer_acc) = [(float(o), float(a)) for o, a in accs]
    assert abs(ours_obj - peer_obj) <= 1e-6 * peer_obj  # same optimum as the peer
    assert round(ours_acc, 3) == round(peer_acc, 3)
    assert re.search(r"fastloss fit time / (sklearn|numpy) fit time: [\d.]+", out)


def test_digits_like_dataset_is_deterministic_and_learnable():
    from fastloss.datasets import load_digits_data, make_digits_like
    X, y = make_digits_like(500, seed=3)
    X2, y2 = make_digits_like(500, seed=3)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    assert X.shape == (500, 64) and X.min() >= 0 and X.max() <= 16
    assert (X == np.round(X)).all() and np.bincount(y).tolist() == [50] * 10
    assert not np.array_equal(X, make_digits_like(500, seed=4)[0])
    Xb, yb, source = load_digits_data(prefer_sklearn=False)
    assert source == "fastloss.datasets.make_digits_like" and Xb.shape == (1797, 64)
    with pytest.raises(ValueError, match="n_samples must be >= 10"):
        make_digits_like(5)


def test_demo_without_subcommand_exits_2():
    assert cli.main([]) == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["no-such-command"])
    assert exc.value.code == 2
    proc = subprocess.run([sys.executable, "-m", "fastloss"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    assert "usage:" in proc.stderr and "demo" in proc.stderr


def test_blobs_dataset_is_deterministic():
    a = make_blobs_dataset(n_samples=200, n_features=5, n_classes=3, seed=3)
    b = make_blobs_dataset(n_samples=200, n_features=5, n_classes=3, seed=3)
    c = make_blobs_dataset(n_samples=200, n_features=5, n_classes=3, seed=4)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a.X_train, c.X_train)
    assert a.X_train.shape == (150, 5) and a.X_test.shape == (50, 5)
    assert a.y_train.dtype == np.int64 and set(np.unique(a.y_train)) == {0, 1, 2}
    assert np.bincount(np.concatenate([a.y_train, a.y_test])).tolist() == [67, 67, 66]
    assert make_blobs_dataset(n_samples=20, dtype=np.float32).X_train.dtype == np.float32
    with pytest.raises(ValueError, match="n_classes"):
        make_blobs_dataset(n_classes=1)


def test_bench_catalogue_covers_the_registry(capsys):
    from fastloss import _registry

    assert bench.main(["--catalogue", "--quick", "--repeat", "1", "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    table = [line for line in out.splitlines() if line.startswith("|") and "---" not in line][1:]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in table]
    assert {c[0] for c in cells} == set(_registry.REGISTRY)
    for name, shape, dtype, mode, fast_ms, numpy_ms, ratio in cells:
        assert dtype == "float32" and mode in ("loss", "loss+grad")
        assert float(fast_ms) > 0 and float(numpy_ms) > 0 and ratio.endswith("x")
        if mode == "loss+grad":
            assert _registry.REGISTRY[name].has_grad


@pytest.mark.parametrize("args", [["--repeat", "0"], ["--C", "0"], ["--C", "nan"],
                                  ["--tol", "-1"]])
def test_demo_rejects_bad_options(args, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["demo"] + args)
    assert exc.value.code == 2
    assert "--repeat must be >= 1, --C > 0 and --tol >= 0" in capsys.readouterr().err
