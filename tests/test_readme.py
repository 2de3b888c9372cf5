"""The README's Python example runs as written."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parents[1] / "README.md"


def test_readme_example_runs():
    if not README.exists():
        pytest.skip("README.md is not beside the tests (installed elsewhere)")
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "no python example in README.md"
    namespace = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["grad"].shape == namespace["logits"].shape
    assert namespace["p"].dtype == namespace["logits"].dtype


def test_readme_custom_estimator_fits():
    """The README's HuberRegressor recovers a line despite gross outliers
    (where least squares would not)."""
    if not README.exists():
        pytest.skip("README.md is not beside the tests (installed elsewhere)")
    import numpy as np

    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    namespace = {}
    exec(compile(next(b for b in blocks if "class HuberRegressor" in b), str(README), "exec"),
         namespace)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 2))
    y = X @ np.array([2.0, -1.0]) + 0.5 + 0.1 * rng.standard_normal(500)
    y[:25] += 50.0  # 5 % outliers
    model = namespace["HuberRegressor"](delta=1.0).fit(X, y)
    np.testing.assert_allclose(model.coef_, [2.0, -1.0], atol=0.1)
    assert abs(model.intercept_ - 0.5) < 0.2
    lstsq_intercept = np.linalg.lstsq(np.column_stack([X, np.ones(500)]), y, rcond=None)[0][2]
    assert abs(lstsq_intercept - 0.5) > 1.0
    np.testing.assert_allclose(model.predict(X[:3]), X[:3] @ model.coef_ + model.intercept_)
