"""The listing page and the echo page rendered by a real browser (headless Chromium).

Chromium (the Debian package ``chromium``) loads the page from a loopback
server and prints the DOM it built (``--dump-dom``). That DOM is parsed
again here: nothing the server displays (file names, paths, headers) may
have become an element, every name must be there as text, and the links
must lead to the right files. Two tests go further and let the browser
follow the links itself (same-origin synchronous XHR from a probe page),
so its own URL resolution and encoding are what is tested.

A missing Chromium *fails* these tests (CI installs it); it is never a skip.
Each browser runs in a new session with a private profile under
``tmp_path``, bounded by a timeout, and is killed (its process group, by
id) if it overstays.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import shutil
import signal
from pathlib import Path
from urllib.parse import quote, urljoin

import pytest
import trio

import trio_webkit
from trio_webkit.apps import FileServer, echo

from support.files import (
    AWKWARD_NAMES,
    LISTING_TAGS,
    Page,
    awkward_content,
    build_awkward,
    parse_page,
)
from support.loopback import fail_after, running_server

CONFIG = trio_webkit.ServerConfig(access_log=False)
#: One browser run, start to exit (a cold start takes about a second).
BROWSER_TIMEOUT = 20
GUARD = 90
#: A directory whose name needs escaping everywhere it appears.
AWKWARD_DIR = "dir <b>&amp; \"'#?%41"
INNER_NAMES = ("inner <i>.txt", "x#y?z.txt")
XSS = "<img src=x onerror=alert(1)>"


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path is not None:
            return path
    pytest.fail(
        "headless Chromium is required for the browser tests but is not installed: "
        "install the Debian package 'chromium' (apt-get install -y chromium)"
    )


_profiles = itertools.count()


async def _kill_session(process: trio.Process) -> None:
    """Kill the browser and its helpers: the process group we created for it."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


async def dump_dom(url: str, workdir: Path, *extra: str) -> str:
    """Load ``url`` in headless Chromium and return the serialised DOM."""
    profile = workdir / f"profile-{next(_profiles)}"
    await trio.Path(profile).mkdir(parents=True)
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-proxy-server",
        "--disable-crash-reporter",
        "--disable-breakpad",
        f"--user-data-dir={profile}",
        *extra,
        "--dump-dom",
        url,
    ]
    env = {**os.environ, "HOME": str(profile)}
    with trio.move_on_after(BROWSER_TIMEOUT) as deadline:
        result = await trio.run_process(
            command,
            capture_stdout=True,
            capture_stderr=True,
            check=False,
            env=env,
            start_new_session=True,  # its own process group: killable as one
            deliver_cancel=_kill_session,
        )
    if deadline.cancelled_caught:
        pytest.fail(
            f"chromium did not finish loading {url} within {BROWSER_TIMEOUT} s and was killed; "
            "a JavaScript dialog (such as alert() run by injected markup) blocks --dump-dom"
        )
    if result.returncode != 0 or not result.stdout.strip():
        stderr = result.stderr.decode(errors="replace")[-2000:]
        pytest.fail(f"chromium exited with {result.returncode} for {url}:\n{stderr}")
    return result.stdout.decode("utf-8")


@pytest.fixture
def awkward_root(tmp_path: Path) -> Path:
    root = tmp_path / "www"
    build_awkward(root)
    build_awkward(root / AWKWARD_DIR, INNER_NAMES)
    return root


def assert_no_injected_element(page: Page) -> None:
    assert "script" not in page.tags
    assert "img" not in page.tags
    assert set(page.tags) <= LISTING_TAGS, set(page.tags) - LISTING_TAGS


# -- the listing ------------------------------------------------------------------
@fail_after(GUARD)
async def test_listing_rendered_by_chromium(awkward_root: Path, tmp_path: Path) -> None:
    async with (
        running_server(FileServer(awkward_root), CONFIG) as running,
        trio_webkit.Client(timeout=10) as client,
    ):
        page_url = running.url + "/"
        page = parse_page(await dump_dom(page_url, tmp_path))
        assert page.title == "Index of /"
        assert_no_injected_element(page)
        shown = [text for _, text in page.anchors]
        for name in AWKWARD_NAMES:
            assert name in shown, name
        assert AWKWARD_DIR + "/" in shown
        followed = {}
        for href, text in page.anchors:
            response = await client.get(urljoin(page_url, href))
            followed[text] = (response.status, response.content)
    for name in AWKWARD_NAMES:
        assert followed[name] == (200, awkward_content(name)), name
    status, listing = followed[AWKWARD_DIR + "/"]
    assert status == 200
    assert [text for _, text in parse_page(listing.decode()).anchors if text != "../"] == sorted(
        INNER_NAMES, key=str.casefold
    )


@fail_after(GUARD)
async def test_listing_of_an_awkward_directory_rendered_by_chromium(
    awkward_root: Path, tmp_path: Path
) -> None:
    async with (
        running_server(FileServer(awkward_root), CONFIG) as running,
        trio_webkit.Client(timeout=10) as client,
    ):
        page_url = f"{running.url}/{quote(AWKWARD_DIR, safe='')}/"
        page = parse_page(await dump_dom(page_url, tmp_path))
        assert_no_injected_element(page)
        assert page.title == f"Index of /{AWKWARD_DIR}/"
        assert f"Index of /{AWKWARD_DIR}/" in page.texts
        bodies = {}
        for href, text in page.anchors:
            response = await client.get(urljoin(page_url, href))
            bodies[text] = (response.status, response.content)
    assert bodies.pop("../")[0] == 200
    assert bodies == {name: (200, awkward_content(name)) for name in INNER_NAMES}


PROBE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>probe</title></head><body>
<pre id="out">pending</pre>
<iframe id="frame" src="%(src)s"></iframe>
<script>
// Runs before the page's load event, so --dump-dom prints its result.
document.getElementById("frame").addEventListener("load", function () {
  var doc = this.contentDocument;
  var result = {
    url: doc.URL,
    title: doc.title,
    tags: Array.from(doc.querySelectorAll("*"), function (e) { return e.localName; }),
    links: []
  };
  for (var a of doc.querySelectorAll("a")) {
    var request = new XMLHttpRequest();
    request.open("GET", a.href, false);  // a.href: resolved by the browser
    request.send();
    result.links.push({text: a.textContent, href: a.href, status: request.status,
                       body: request.responseText});
  }
  document.getElementById("out").textContent = JSON.stringify(result);
});
</script>
</body></html>
"""


async def run_probe(url: str, workdir: Path) -> dict[str, object]:
    page = parse_page(await dump_dom(url, workdir))
    assert page.pre, "the probe page produced nothing"
    assert page.pre[0] != "pending", "the probe's script did not run"
    result: dict[str, object] = json.loads(page.pre[0])
    return result


@fail_after(GUARD)
async def test_chromium_follows_the_listing_links_itself(
    awkward_root: Path, tmp_path: Path
) -> None:
    (awkward_root / "probe").mkdir()
    (awkward_root / "probe" / "index.html").write_text(PROBE % {"src": "../"}, encoding="utf-8")
    async with running_server(FileServer(awkward_root), CONFIG) as running:
        result = await run_probe(running.url + "/probe/", tmp_path)
        assert result["url"] == running.url + "/"
    assert result["title"] == "Index of /"
    tags = result["tags"]
    assert isinstance(tags, list)
    assert "script" not in tags
    assert "img" not in tags
    links = result["links"]
    assert isinstance(links, list)
    bodies = {link["text"]: (link["status"], link["body"]) for link in links}
    for name in AWKWARD_NAMES:
        assert bodies[name] == (200, awkward_content(name).decode()), name
    status, inner = bodies[AWKWARD_DIR + "/"]
    assert status == 200
    inner_names = {text for _, text in parse_page(inner).anchors}
    assert inner_names == {"../", *INNER_NAMES}


@fail_after(GUARD)
async def test_chromium_opens_each_file_from_its_link(awkward_root: Path, tmp_path: Path) -> None:
    """Every link, as the dumped listing gives it, loaded as a top-level page."""
    async with running_server(FileServer(awkward_root), CONFIG) as running:
        page_url = running.url + "/"
        page = parse_page(await dump_dom(page_url, tmp_path))
        links = {text: urljoin(page_url, href) for href, text in page.anchors}
        shown: dict[str, list[str]] = {}
        limiter = trio.CapacityLimiter(4)

        async def open_one(name: str) -> None:
            async with limiter:
                shown[name] = parse_page(
                    await dump_dom(links[name], tmp_path / name.encode().hex())
                ).pre

        async with trio.open_nursery() as nursery:
            for name in AWKWARD_NAMES:
                nursery.start_soon(open_one, name)
    for name in AWKWARD_NAMES:
        assert shown[name] == [awkward_content(name).decode()], name


# -- the echo page --------------------------------------------------------------------
@fail_after(GUARD)
async def test_echo_page_rendered_by_chromium(tmp_path: Path) -> None:
    path = "/</title>" + XSS
    query = "q=" + XSS + "&r=\"'&amp;"
    async with running_server(echo, CONFIG) as running:
        dom = await dump_dom(f"{running.url}{path}?{query}", tmp_path, f"--user-agent={XSS}")
    page = parse_page(dom)
    assert "img" not in page.tags
    assert "script" not in page.tags
    assert "title" in page.tags
    assert page.title == f"Echo: {path}"  # decoded, shown as text
    request_line = page.pre[0]
    assert request_line.startswith("GET /")
    assert request_line.endswith(" HTTP/1.1")
    assert XSS in page.texts  # the User-Agent header, as text in its cell


ECHO_PROBE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>echo probe</title></head><body>
<pre id="out">pending</pre>
<script>
var request = new XMLHttpRequest();
request.open("POST", "/echo/" + encodeURIComponent(%(xss)s), false);
request.setRequestHeader("X-Evil", %(xss)s);
request.setRequestHeader("Content-Type", "text/plain");
request.send(%(body)s);
// The browser's own HTML parser on the echo page, as a navigation would use it.
var doc = new DOMParser().parseFromString(request.responseText, "text/html");
var headers = {};
for (var row of doc.querySelectorAll("#headers tr")) {
  headers[row.querySelector("th").textContent.toLowerCase()] = row.querySelector("td").textContent;
}
document.getElementById("out").textContent = JSON.stringify({
  status: request.status,
  tags: Array.from(doc.querySelectorAll("*"), function (e) { return e.localName; }),
  title: doc.title,
  body: doc.getElementById("body").textContent,
  headers: headers
});
</script>
</body></html>
"""


def js_string(text: str) -> str:
    """``text`` as a JavaScript string literal that is safe inside ``<script>``."""
    return json.dumps(text).replace("</", "<\\/")


@fail_after(GUARD)
async def test_echo_body_and_headers_parsed_by_chromium(tmp_path: Path) -> None:
    """A same-origin page POSTs markup in the path, a header and the body."""
    body = "</pre><script>alert(1)</script>" + XSS + " & \"quotes\" 'single'"
    root = tmp_path / "www"
    root.mkdir()
    (root / "probe.html").write_text(
        ECHO_PROBE % {"xss": js_string(XSS), "body": js_string(body)}, encoding="utf-8"
    )
    files = FileServer(root)

    async def app(request: trio_webkit.Request) -> trio_webkit.Response:
        if request.path.startswith("/echo/"):
            return await echo(request)
        return await files(request)

    async with running_server(app, CONFIG) as running:
        page = parse_page(await dump_dom(running.url + "/probe.html", tmp_path))
    assert page.pre[0] != "pending", "the probe's script did not run"
    result = json.loads(page.pre[0])
    assert result["status"] == 200
    assert "img" not in result["tags"]
    assert "script" not in result["tags"]
    assert result["title"] == "Echo: /echo/" + XSS
    assert result["body"] == body
    assert result["headers"]["x-evil"] == XSS
