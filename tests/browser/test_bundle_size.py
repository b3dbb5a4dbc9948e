"""Each page's first view (JavaScript and CSS) stays under 200 KB gzipped."""

from __future__ import annotations

import pytest

from tests.browser.bundle_size import BUDGET_BYTES, WEB_DIST, first_views


def test_first_views_stay_under_the_budget() -> None:
    if not (WEB_DIST / "index.html").is_file():
        pytest.fail("web/dist is not built: run `make web` (make test builds it first)")
    views = first_views()
    assert "booking page" in views
    for name, view in views.items():
        assert any(path.endswith(".js") for path in view.files), f"{name} loads no script?"
        assert view.total < BUDGET_BYTES, (
            f"{name}'s first view is {view.total / 1024:.1f} KB gzipped, over 200 KB: "
            + ", ".join(f"{path} {size / 1024:.1f} KB" for path, size in view.files.items())
        )
