"""report.site: a real `mkdocs build --strict` of a mixed result set, checked page by page."""

from __future__ import annotations

import json
import re
import shutil
import socket
import threading
import time
import urllib.request
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from markupsafe import escape

from bench.schema import METRICS, Result
from perf.synthetic import synthetic_results
from report import site as site_module
from report.site import build_site, md_escape, render_docs, shift_headings
from report.summary import unique_slugs
from tests.report.site_fixtures import XSS_FAMILY, XSS_NAME, mixed_results

NOTES = """# How we use it

We run it for *smoke tests*.

```python
# a comment, not a heading
print("<b>kept as code</b>")
```
"""


class Page(HTMLParser):
    """Everything the checks need from one built HTML page."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: set[str] = set()
        self.scripts: list[str] = []
        self.title = ""
        self._in: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        for key in ("href", "src"):
            if attributes.get(key):
                self.urls.append(attributes[key])
        if attributes.get("id"):
            self.ids.add(attributes["id"])
        self._in = tag if tag in ("script", "title") else None
        if tag == "script":
            self.scripts.append("")

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "script":
            self.scripts[-1] += data
        elif self._in == "title":
            self.title += data


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> Path:
    """The repository's hand-written pages plus notes for one model."""
    root = tmp_path_factory.mktemp("sources")
    shutil.copytree(site_module.SITE_SOURCES, root, dirs_exist_ok=True)
    (root / "models" / "llama-3-tiny.md").write_text(NOTES)
    (root / "models" / "no-such-model.md").write_text("orphan")
    return root


@pytest.fixture(scope="module")
def results() -> list[Result]:
    return mixed_results()


@pytest.fixture(scope="module")
def built(tmp_path_factory, results, sources) -> Path:
    out = tmp_path_factory.mktemp("out")
    return build_site(results, out, site_sources=sources)


def pages(site: Path) -> dict[str, Page]:
    return {p.relative_to(site).as_posix(): Page(p.read_text()) for p in site.rglob("*.html")}


def test_every_model_has_a_page_with_every_section(built, results):
    names = {r.model.name for r in results}
    model_pages = sorted((built / "models").glob("*.html"))
    assert len(model_pages) == len(names) == 5
    titles = set()
    for path in model_pages:
        page = Page(path.read_text())
        assert {"how-it-works", "parameters", "configuration", "measurements"} <= page.ids, path.name
        titles.add(page.title.removesuffix(" - gpuscape"))
    assert titles == names
    assert (built / "index.html").is_file() and (built / "methodology.html").is_file()


def test_colliding_names_get_distinct_pages(built):
    llama = (built / "models" / "llama-3-tiny.html").read_text()
    other = (built / "models" / "llama-3-tiny-2.html").read_text()
    assert "<title>Llama 3 (tiny) - gpuscape</title>" in llama
    assert "<title>llama-3 tiny - gpuscape</title>" in other


def test_model_without_a_successful_cell_lists_its_failures(built):
    [path] = [p for p in (built / "models").glob("*.html") if "evil" in p.name]
    text = path.read_text()
    assert "0 cells succeeded, 4 failed" in text
    rows = re.findall(r'<tr class="gs-(oom|error|timeout)">', text)
    assert sorted(rows) == ["error", "error", "oom", "oom"]
    assert "OutOfMemoryError: oom &lt;at&gt; batch 4" in text
    # its config still explains it: Gemma 2 style MQA with sliding layers
    assert (
        "Multi-query attention (MQA)" in text and "2 of 4 layers attend only to the last 4,096 tokens" in text
    )


def test_mixtral_page_explains_experts_and_counts(built):
    text = (built / "models" / "mixtral-tiny.html").read_text()
    assert "8 experts in 4 of 4 layers" in text and "runs the top 2" in text
    assert "Grouped-query attention (GQA), group size 4" in text
    assert "1 KiB at bfloat16, 2 KiB at float32" in text  # 2 x 4 layers x 2 heads x 32 dims
    assert "Total</th>" in text and "29,632,768" in text


def test_notes_are_merged_under_notes_with_headings_moved_down(built):
    text = (built / "models" / "llama-3-tiny.html").read_text()
    notes = text[text.index('id="notes"') :]
    assert re.search(r'<h3 id="how-we-use-it">How we use it', notes)
    assert "<em>smoke tests</em>" in notes
    assert "&lt;b&gt;kept as code&lt;/b&gt;" in notes  # the code block stayed a code block
    other = (built / "models" / "llama-3-tiny-2.html").read_text()
    # no placeholder on a published page: the hint is an HTML comment, and no empty Notes heading
    visible = re.sub(r"<!--.*?-->", "", other, flags=re.S)
    assert "No notes" not in visible and 'id="notes"' not in other
    assert re.search(r"<!-- No notes for this model: write them in site/models/llama-3-tiny-2\.md", other)


def test_html_in_names_never_reaches_a_page_unescaped(built):
    for name, page in pages(built).items():
        for tag, attributes in page.tags:
            assert not (tag == "img" and attributes.get("src") == "x"), name
            assert not any(key.startswith("on") for key in attributes), (name, tag, attributes)
        for script in page.scripts:  # names inside chart data stay escaped strings
            assert XSS_NAME not in script and "<script>alert" not in script and "<img" not in script, name
    [evil] = [p for n, p in pages(built).items() if "evil" in n]
    assert evil.title == f"{XSS_NAME} - gpuscape"  # shown as text, all of it
    home = (built / "index.html").read_text()
    assert "&lt;/title&gt;&lt;script&gt;alert(" in home and XSS_NAME not in home
    assert "&lt;img src=x onerror=alert(1)&gt;" in home and XSS_FAMILY not in home


def test_every_url_stays_inside_the_site_and_resolves(built):
    checked = 0
    for name, page in pages(built).items():
        if name == "404.html":
            continue  # MkDocs writes root-absolute links there; see the site_url test
        for url in page.urls:
            parts = urlsplit(url)
            if parts.scheme == "data" or url.startswith("#"):
                continue
            assert not parts.scheme and not parts.netloc and not url.startswith("/"), (name, url)
            target = (built / name).parent / unquote(parts.path)
            assert target.resolve().is_relative_to(built.resolve()), (name, url)
            assert target.exists(), (name, url)
            checked += 1
    assert checked > 100


def test_methodology_prints_the_registry_protocol_and_raw_links(built, results):
    text = (built / "methodology.html").read_text()
    for metric in METRICS.values():
        assert f"<td>{escape(metric.description)}</td>" in text, metric.id
    assert re.search(r'<td class="gs-num">2</td><td class="gs-num">5</td>', text)  # warmup 2, repeats 5
    assert "NVIDIA H100 80GB HBM3" in text and "570.86" in text and "AMD EPYC 7B13" in text
    links = re.findall(r'href="(raw/[^"]+/[^"]+\.json)"', text)
    assert len(links) == len(results)
    shipped = {Result.model_validate_json((built / link).read_text()).cell for link in links}
    assert shipped == {r.cell for r in results}
    index = json.loads((built / "raw" / "index.json").read_text())
    assert len(index) == len(results)


def test_home_has_measured_summary_findings_and_model_links(built):
    text = (built / "index.html").read_text()
    assert "23 cells of 5 models from 3 result sets" in text
    assert "2026-11-25 and 2026-11-27" in text
    assert "<summary>5 failed cells, not plotted</summary>" in text  # the landscape's note points here
    fastest = re.search(r"Fastest decode</td>\s*<td><a href=\"models/([^\"]+)\"", text)
    assert fastest and fastest.group(1) == "gpt-2-old-config.html"  # CPU: 220 x 4 x 2 tok/s beats 200 x 4 x 2
    assert "Most tokens per joule" in text and "20.0 tokens/J" in text  # 1 / (0.4 / 8) on the H100
    for slug in ("llama-3-tiny", "llama-3-tiny-2", "mixtral-tiny", "gpt-2-old-config"):
        assert f'href="models/{slug}.html"' in text


def test_site_url_makes_the_404_page_work_under_a_sub_path(tmp_path, results, sources):
    site = build_site(results[:3], tmp_path, site_sources=sources, site_url="https://example.org/gpuscape/")
    page = Page((site / "404.html").read_text())
    local = [u for u in page.urls if not u.startswith("data:")]
    assert local and all(u.startswith("/gpuscape/") for u in local), local


def test_rendering_is_deterministic(tmp_path, results, sources):
    first = render_docs(results, tmp_path / "a", site_sources=sources)
    second = render_docs(list(reversed(results)), tmp_path / "b", site_sources=sources)
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]


def test_a_failed_build_leaves_the_previous_site(built, results, sources, tmp_path):
    out = tmp_path / "out"
    site = build_site(results[:2], out, site_sources=sources)
    before = (site / "index.html").read_bytes()
    broken = tmp_path / "broken"
    shutil.copytree(sources, broken)
    (broken / "index.md").write_text("# Home\n\n[a broken link](nowhere.md)\n")
    with pytest.raises(site_module.SiteError, match="nowhere.md"):
        build_site(results[:2], out, site_sources=broken)
    assert (site / "index.html").read_bytes() == before


def test_unique_slugs_are_path_safe_and_stable():
    names = ["Llama 3", "llama-3", "LLAMA 3!", "../../etc/passwd", "index", "", "Ünïcode", "a/b\\c"]
    slugs = unique_slugs(names)
    assert len(set(slugs.values())) == len(names)
    assert sorted(v for k, v in slugs.items() if k.lower().startswith("llama")) == [
        "llama-3",
        "llama-3-2",
        "llama-3-3",
    ]
    assert slugs["index"] == "index-2" and slugs[""] == "model"
    for slug in slugs.values():
        assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", slug) and ".." not in slug
    assert unique_slugs(reversed(names)) == slugs


def test_md_escape_defuses_markdown_and_html():
    assert str(md_escape("a_b *c* [x](y) | <i>&")) == r"a\_b \*c\* \[x\]\(y\) \| &lt;i&gt;&amp;"
    assert str(md_escape("two\nlines\x00")) == "two lines"


def test_shift_headings_skips_code_fences():
    assert shift_headings(NOTES, 3).splitlines()[0] == "### How we use it"
    assert "# a comment, not a heading" in shift_headings(NOTES, 3)
    assert shift_headings("### Already deep\n", 3) == "### Already deep\n"


def test_serve_rerenders_when_a_hand_written_page_changes(tmp_path, results, sources):
    port = _free_port()
    live = tmp_path / "sources"
    shutil.copytree(sources, live)
    stop = threading.Event()
    args = dict(dev_addr=f"127.0.0.1:{port}", site_sources=live, poll_s=0.2, stop=stop)
    server = threading.Thread(
        target=site_module.serve_site, args=(results[:4], tmp_path / "out"), kwargs=args
    )
    server.start()
    try:
        assert "LLM inference, measured" in _wait_for(f"http://127.0.0.1:{port}/index.html", "measured")
        (live / "index.md").write_text("# Freshly edited\n\nNew words.\n")
        assert "New words." in _wait_for(f"http://127.0.0.1:{port}/index.html", "New words.")
    finally:
        stop.set()
        server.join(timeout=20)
    assert not server.is_alive()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    body = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                body = response.read().decode()
            if text in body:
                return body
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} never showed {text!r}; last body {body[:200]!r}")


def test_an_empty_result_set_still_builds(tmp_path, sources):
    site = build_site([], tmp_path, site_sources=sources)
    assert "No results yet" in (site / "index.html").read_text()
    assert not (site / "models").exists()


def test_a_1000_cell_site_keeps_every_page_light(tmp_path):
    """plotly.js ships once; a page's own HTML stays under 300 KB (perf.synthetic's 1,000 cells)."""
    site = build_site(synthetic_results(1000, 50, seed=0), tmp_path)
    weights = site_module.page_weights(site)
    assert len([p for p in weights if p.startswith("models/")]) == 50
    heaviest, size = next(iter(weights.items()))
    assert size < 300_000, (heaviest, size)
    home = (site / "index.html").read_text()
    assert home.count('class="plotly-graph-div"') == 1 and "plotly.min.js" in home
    assert (site / "javascripts" / "plotly.min.js").stat().st_size > 1_000_000  # shipped, once
    assert len(list(site.rglob("plotly*.js"))) == 1


def test_extra_pages_join_the_docs_and_the_nav(tmp_path, results, sources):
    from report.site import slides_page

    site = build_site(
        results, tmp_path, site_sources=sources, extra_pages={"slides.md": slides_page(results)}
    )
    slides = Page((site / "slides.html").read_text())
    assert sum(1 for tag, a in slides.tags if "plotly-graph-div" in (a.get("class") or "")) >= 2
    nav = (tmp_path / "mkdocs.yml").read_text()
    assert nav.index("slides.md") < nav.index("methodology.md")
    with pytest.raises(ValueError, match="extra page name"):
        render_docs(results, tmp_path / "docs2", site_sources=sources, extra_pages={"../x.md": ""})


def test_config_table_puts_the_architecture_first_and_folds_generic_keys(tmp_path, results, sources):
    generic = {"transformers_version": "5.24.0", "id2label": {"0": "LABEL_0"}, "use_cache": True}
    mixtral = [
        r.model_copy(update={"model": r.model.model_copy(update={"config": {**r.model.config, **generic}})})
        for r in results
        if r.model.name == "Mixtral (tiny)"
    ]
    built = build_site(mixtral, tmp_path / "out", site_sources=sources)
    text = (built / "models" / "mixtral-tiny.html").read_text()
    own, _, folded = text.partition("<details>")
    assert "<code>num_local_experts</code>" in own and "<code>hidden_size</code>" in own
    for key in ("transformers_version", "id2label.0", "use_cache"):
        assert f"<code>{key}</code>" not in own and f"<code>{key}</code>" in folded
    assert "Settings every transformers config carries (3 keys)" in folded
    # built from its config with random weights: no claim about a checkpoint's stored dtype
    assert "Random, built from the configuration (no checkpoint); measured at" in text
    assert "checkpoint&#39;s config" not in text and "checkpoint's config" not in text


def test_a_charts_section_links_every_view_and_each_page_draws_its_chart(built):
    from report.views import VIEWS

    index = (built / "charts" / "index.html").read_text()
    for name in VIEWS:
        assert f'href="{name}.html"' in index or f'href="{name}/"' in index, name
        page = (built / "charts" / f"{name}.html").read_text()
        assert "plotly.min.js" in page and f"chart-view-{name}" in page
    home = (built / "index.html").read_text()
    assert "charts/index.html" in home or "charts/" in home  # in the navigation
