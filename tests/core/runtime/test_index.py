"""PEP 503 project pages: file names, sha256 fragments, PEP 658/714 metadata, requires-python and yanked files."""
from __future__ import annotations

from core.runtime.index import parse_project_page, project_url

PAGE = """<!DOCTYPE html><html><body>
<a href="/whl/cu128/torch-2.13.0%2Bcu128-cp311-cp311-manylinux_2_28_x86_64.whl#sha256=abc123"
   data-dist-info-metadata="sha256=def456"
   data-requires-python="&gt;=3.10">torch-2.13.0+cu128-cp311-cp311-manylinux_2_28_x86_64.whl</a><br/>
<a href="files/old.whl" data-core-metadata="true" data-yanked="">torch-1.0.0-py3-none-any.whl</a>
<a href="https://elsewhere.example/x.whl#md5=ff"></a>
</body></html>"""


def test_links_are_resolved_against_the_page_with_their_hashes():
    first, second, third = parse_project_page(PAGE, "https://download.example/whl/cu128/torch/")
    assert first.filename == "torch-2.13.0+cu128-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert first.url == "https://download.example/whl/cu128/torch-2.13.0%2Bcu128-cp311-cp311-manylinux_2_28_x86_64.whl"
    assert first.sha256 == "abc123" and first.has_metadata and first.metadata_sha256 == "def456"
    assert first.metadata_url == first.url + ".metadata" and first.requires_python == ">=3.10"
    assert not first.yanked
    assert second.url == "https://download.example/whl/cu128/torch/files/old.whl"
    assert second.has_metadata and second.metadata_sha256 is None and second.yanked
    assert third.filename == "x.whl" and third.sha256 is None and not third.has_metadata


def test_project_urls_use_normalized_names():
    assert project_url("https://i.example/whl/cu128/", "Typing_Extensions") == \
        "https://i.example/whl/cu128/typing-extensions/"
