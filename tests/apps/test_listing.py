"""The directory listing page (``trio_webkit.apps._listing``), read back with an HTML parser.

Names are text (escaped) and links (percent-quoted, relative): a parser must
see only the page's own tags, each link must decode back to its name, and a
browser joining it to the directory's URL must stay in that directory with
no query and no fragment.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import unquote, urljoin, urlsplit

import pytest

from trio_webkit.apps._listing import Entry, human_size, render_listing

from support.files import LISTING_TAGS

PAGE_TAGS = LISTING_TAGS

AWKWARD = [
    "<script>alert(1)</script>".replace("/", "\\"),
    "<script>alert(1)",
    "<img src=x onerror=alert(1)>",
    "a&b",
    "&amp;",
    'quote"d',
    "it's",
    '"onmouseover=alert(1)',
    "' onclick='alert(1)",
    '" onmouseover="alert(1)" x="',
    "hash#tag",
    "what?x=1",
    "100%",
    "%2e%2e",
    "%zz",
    "with space",
    "  leading and trailing  ",
    "ünïcödé ☃",
    "日本語.txt",
    "emoji 🎉.bin",
    "javascript:alert(1)",
    "data:text,html",
    "back\\slash",
    "semi;colon",
    "plus+sign",
    "..file",
    "-->",
    "<!--",
    "]]>",
]


class Page(HTMLParser):
    """Collects tags, links and their texts, the title and the h1."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.links: list[tuple[dict[str, str | None], str]] = []
        self.texts: dict[str, str] = {}
        self.rows = 0
        self.comments: list[str] = []
        self._open: str | None = None
        self._attrs: dict[str, str | None] = {}
        self._text = ""
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.rows += tag == "tr"
        if tag in ("a", "title", "h1"):
            self._open, self._attrs, self._text = tag, dict(attrs), ""

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open == "a":
            self.links.append((self._attrs, self._text))
        elif tag == self._open:
            self.texts[tag] = self._text
        if tag == self._open:
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open:
            self._text += data

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)

    @property
    def hrefs(self) -> list[str]:
        return [attrs["href"] or "" for attrs, _ in self.links]


def entries(*names: str, is_dir: bool = False) -> list[Entry]:
    return [Entry(name, is_dir, 10, 0.0) for name in names]


@pytest.mark.parametrize("is_dir", [False, True], ids=["file", "dir"])
@pytest.mark.parametrize("name", AWKWARD, ids=[repr(name) for name in AWKWARD])
def test_awkward_name_is_text_and_links_to_itself(name: str, is_dir: bool) -> None:
    page = Page(render_listing("/dir/", [Entry(name, is_dir, 5, 0.0)]))
    assert set(page.tags) <= PAGE_TAGS
    assert "script" not in page.tags and "img" not in page.tags
    assert page.comments == []
    (attrs, text), *others = [link for link in page.links if link[0]["href"] != "../"]
    assert others == []
    assert set(attrs) == {"href"}  # no onmouseover / onclick / src smuggled in
    href = attrs["href"] or ""
    assert text == (name + "/" if is_dir else name)
    assert href.endswith("/") is is_dir
    assert unquote(href.removesuffix("/"), errors="strict") == name
    followed = urlsplit(urljoin("http://example.test/dir/", href))
    assert (followed.scheme, followed.netloc) == ("http", "example.test")
    assert followed.query == "" and followed.fragment == ""
    assert unquote(followed.path) == "/dir/" + name + ("/" if is_dir else "")


def test_all_awkward_names_on_one_page() -> None:
    page = Page(render_listing("/dir/", entries(*AWKWARD)))
    assert set(page.tags) <= PAGE_TAGS
    named = {unquote(href) for href in page.hrefs if href != "../"}
    assert named == set(AWKWARD)


@pytest.mark.parametrize(
    ("name", "href"),
    [
        pytest.param("a b", "a%20b", id="space"),
        pytest.param("a#b", "a%23b", id="hash"),
        pytest.param("a?b", "a%3Fb", id="question"),
        pytest.param("100%", "100%25", id="percent"),
        pytest.param("a&b", "a%26b", id="ampersand"),
        pytest.param("javascript:x", "javascript%3Ax", id="colon"),
        pytest.param("é", "%C3%A9", id="unicode-utf8"),
        pytest.param("plain.txt", "plain.txt", id="plain"),
    ],
)
def test_href_is_percent_quoted(name: str, href: str) -> None:
    assert Page(render_listing("/", entries(name))).hrefs == [href]
    assert f'href="{href}"' in render_listing("/", entries(name))


def test_attribute_cannot_be_broken_out_of() -> None:
    html = render_listing("/", entries('"onmouseover=alert(1)'))
    assert "onmouseover=alert(1)" not in html.replace("&quot;onmouseover=alert(1)", "")
    assert 'href="%22onmouseover%3Dalert%281%29"' in html


def test_title_and_heading_escape_the_path() -> None:
    page = Page(render_listing("/<script>x</script> & co/", []))
    assert page.texts["title"] == "Index of /<script>x</script> & co/"
    assert page.texts["h1"] == "Index of /<script>x</script> & co/"
    assert "script" not in page.tags


def test_parent_link() -> None:
    assert Page(render_listing("/", entries("a"))).hrefs == ["a"]
    assert Page(render_listing("/sub/", entries("a"))).hrefs == ["../", "a"]
    assert Page(render_listing("/a/b/c/", [])).hrefs == ["../"]


def test_sorted_directories_first_case_insensitive() -> None:
    mixed = [
        Entry("beta.txt", False, 1, 0.0),
        Entry("Zeta", True, 0, 0.0),
        Entry("Alpha.txt", False, 1, 0.0),
        Entry("alpha", True, 0, 0.0),
        Entry("gamma.TXT", False, 1, 0.0),
        Entry("Beta", True, 0, 0.0),
    ]
    page = Page(render_listing("/", mixed))
    assert [text for _, text in page.links] == [
        "alpha/",
        "Beta/",
        "Zeta/",
        "Alpha.txt",
        "beta.txt",
        "gamma.TXT",
    ]


def test_empty_directory() -> None:
    page = Page(render_listing("/", []))
    assert page.links == []
    assert page.rows == 1  # the header row
    assert page.texts["h1"] == "Index of /"


def test_page_is_complete_html5() -> None:
    html = render_listing("/", entries("a"))
    assert html.startswith("<!DOCTYPE html>")
    assert '<meta charset="utf-8">' in html
    assert html.rstrip().endswith("</html>")
    html.encode("utf-8")


@pytest.mark.parametrize(
    ("size", "shown"),
    [
        pytest.param(0, "0 B", id="zero"),
        pytest.param(1, "1 B", id="one"),
        pytest.param(1023, "1023 B", id="below-kib"),
        pytest.param(1024, "1.0 KiB", id="kib"),
        pytest.param(1234, "1.2 KiB", id="1.2-kib"),
        pytest.param(1024 * 1024 - 1, "1.0 MiB", id="rounds-up-a-unit"),
        pytest.param(5 * 1024**2 + 512 * 1024, "5.5 MiB", id="mib"),
        pytest.param(3 * 1024**3, "3.0 GiB", id="gib"),
        pytest.param(2 * 1024**4, "2.0 TiB", id="tib"),
        pytest.param(1024**7, "1024.0 EiB", id="past-the-last-unit"),
    ],
)
def test_human_size(size: int, shown: str) -> None:
    assert human_size(size) == shown


def test_row_cells() -> None:
    listing = [
        Entry("file.bin", False, 1234, 1_700_000_000.9),
        Entry("folder", True, 4096, 0.0),
    ]
    html = render_listing("/", listing)
    assert '<td class="size">1.2 KiB</td><td>2023-11-14 22:13</td>' in html
    assert '<td class="size">-</td><td>1970-01-01 00:00</td>' in html


def test_impossible_mtime_shows_a_dash() -> None:
    html = render_listing("/", [Entry("x", False, 1, 1e20)])
    assert '<td class="size">1 B</td><td>-</td>' in html


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("bad\udcff.txt", id="undecodable-byte"),
        pytest.param("line\nbreak", id="newline"),
        pytest.param("bell\x07", id="control"),
        pytest.param("tab\there", id="tab"),
    ],
)
def test_unservable_name_is_shown_without_link(name: str) -> None:
    html = render_listing("/", entries(name))
    html.encode("utf-8")  # no lone surrogate reaches the page
    page = Page(html)
    assert page.links == []
    assert "\ufffd" in html
