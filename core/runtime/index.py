"""A PEP 503 "simple" package index: one HTML page per project listing its files.

Each anchor's text is the file name; its href may carry `#sha256=<hex>`. PEP 658/714 mark files whose
core metadata is served alone at `<file url>.metadata` (data-core-metadata, formerly
data-dist-info-metadata), which lets the fetcher read a wheel's requirements before downloading it.
"""
from __future__ import annotations

import urllib.parse
from dataclasses import dataclass
from html.parser import HTMLParser

from packaging.utils import canonicalize_name

from core.runtime.transfer import read_text

_ACCEPT = "application/vnd.pypi.simple.v1+html, text/html;q=0.9"


@dataclass(frozen=True)
class FileLink:
    """One file a project page lists."""

    filename: str
    url: str
    sha256: str | None = None
    has_metadata: bool = False
    metadata_sha256: str | None = None
    requires_python: str | None = None
    yanked: bool = False

    @property
    def metadata_url(self) -> str:
        return self.url + ".metadata"


def project_url(index_url: str, project: str) -> str:
    return index_url.rstrip("/") + "/" + canonicalize_name(project) + "/"


def project_files(index_url: str, project: str, timeout: float) -> list[FileLink]:
    """Fetch and parse the project's page; raises UserFacingError when the index has no such page."""
    url = project_url(index_url, project)
    return parse_project_page(read_text(url, timeout, _ACCEPT), url)


def parse_project_page(html: str, page_url: str) -> list[FileLink]:
    parser = _AnchorParser()
    parser.feed(html)
    parser.close()
    return [_link(attrs, text, page_url) for attrs, text in parser.anchors if attrs.get("href")]


def _link(attrs: dict[str, str | None], text: str, page_url: str) -> FileLink:
    url, _, fragment = urllib.parse.urljoin(page_url, attrs["href"] or "").partition("#")
    hash_name, _, hash_value = fragment.partition("=")
    filename = text.strip() or urllib.parse.unquote(urllib.parse.urlsplit(url).path.rsplit("/", 1)[-1])
    metadata = attrs.get("data-core-metadata", attrs.get("data-dist-info-metadata"))
    metadata_hash, _, metadata_digest = (metadata or "").partition("=")
    return FileLink(filename=filename, url=url, sha256=hash_value if hash_name == "sha256" else None,
                    has_metadata=metadata is not None and metadata != "false",
                    metadata_sha256=metadata_digest if metadata_hash == "sha256" else None,
                    requires_python=attrs.get("data-requires-python"), yanked="data-yanked" in attrs)


class _AnchorParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open is not None:
            self.anchors.append((self._open, "".join(self._text)))
            self._open = None
