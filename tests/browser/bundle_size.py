"""The JavaScript and CSS a page's first view loads, gzipped: `python -m tests.browser.bundle_size`.

A page's first view is what its built HTML loads before anything is clicked: the entry script,
the chunks it preloads and the stylesheets. Chunks loaded later by `import()` are not in it."""

from __future__ import annotations

import gzip
import sys
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

WEB_DIST = Path(__file__).resolve().parents[2] / "web" / "dist"
PAGES = {"booking page": "index.html", "dashboard": "dashboard/index.html"}
BUDGET_BYTES = 200 * 1024
# What a server's gzip at its usual level sends.
GZIP_LEVEL = 6


class _Assets(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script" and found.get("src"):
            self.paths.append(str(found["src"]))
        rel = (found.get("rel") or "").split()
        if tag == "link" and ({"stylesheet", "modulepreload"} & set(rel)) and found.get("href"):
            self.paths.append(str(found["href"]))


@dataclass(frozen=True)
class FirstView:
    page: str
    files: dict[str, int]  # asset path -> gzipped bytes

    @property
    def total(self) -> int:
        return sum(self.files.values())


def first_view(html: Path, dist: Path = WEB_DIST) -> FirstView:
    parser = _Assets()
    parser.feed(html.read_text(encoding="utf-8"))
    files: dict[str, int] = {}
    for path in dict.fromkeys(parser.paths):
        if path.startswith(("http:", "https:", "//")):
            raise AssertionError(f"{html} loads {path} from another origin")
        asset = dist / path.lstrip("/")
        files[path] = len(gzip.compress(asset.read_bytes(), compresslevel=GZIP_LEVEL))
    return FirstView(str(html.relative_to(dist)), files)


def first_views(dist: Path = WEB_DIST) -> dict[str, FirstView]:
    return {
        name: first_view(dist / html, dist)
        for name, html in PAGES.items()
        if (dist / html).is_file()
    }


def main() -> int:
    if not (WEB_DIST / "index.html").is_file():
        print("web/dist is not built: run `make web`", file=sys.stderr)
        return 2
    over = False
    for name, view in first_views().items():
        print(f"{name} ({view.page}): {view.total / 1024:.1f} KB gzipped (budget 200 KB)")
        for path, size in view.files.items():
            print(f"  {path}  {size / 1024:.1f} KB")
        over = over or view.total > BUDGET_BYTES
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
