"""Safe path resolution (``trio_webkit.apps._paths``), table-driven, on a real tree.

The tree built by :func:`tree`::

    tmp/
      secret.txt                      <- must never come back
      outside/secret2.txt
      root/                           <- the served root
        public.txt  index.html  .hidden.txt  .git/config  sub/file.txt
        escape      -> ../outside     (symlink to a directory outside)
        secret_link.txt -> ../secret.txt   (symlink to a file outside)
        up          -> ..             (symlink to the root's parent)

Every traversal target is checked two ways: its decoded segments (or its
rejection) are pinned exactly, and, for all four combinations of
``follow_symlinks`` and ``show_hidden``, it is either rejected or resolves
inside the root and never to a secret.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import pytest

from trio_webkit.apps._paths import PathRejected, request_segments, resolve

SECRET = b"TOP SECRET: must never be served\n"


@attrs.frozen
class Tree:
    base: Path
    root: Path
    secrets: tuple[Path, ...]


def _build(base: Path) -> Tree:
    base = base.resolve()
    (base / "secret.txt").write_bytes(SECRET)
    (base / "outside").mkdir()
    (base / "outside" / "secret2.txt").write_bytes(SECRET)
    root = base / "root"
    (root / "sub").mkdir(parents=True)
    (root / ".git").mkdir()
    (root / "public.txt").write_bytes(b"public\n")
    (root / "index.html").write_bytes(b"<p>index</p>\n")
    (root / ".hidden.txt").write_bytes(b"hidden\n")
    (root / ".git" / "config").write_bytes(b"[core]\n")
    (root / "sub" / "file.txt").write_bytes(b"sub file\n")
    (root / "escape").symlink_to("../outside", target_is_directory=True)
    (root / "secret_link.txt").symlink_to("../secret.txt")
    (root / "up").symlink_to("..", target_is_directory=True)
    return Tree(base, root, (base / "secret.txt", base / "outside" / "secret2.txt"))


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Tree:
    return _build(tmp_path_factory.mktemp("paths"))


@pytest.fixture
def fresh(tmp_path: Path) -> Tree:
    """A tree of its own, for tests that add symlinks."""
    return _build(tmp_path)


REJECTED = None
LONG = "a" * 256

# (id, raw request path, decoded segments or REJECTED)
TRAVERSAL: list[tuple[str, str, list[str] | None]] = [
    # -- plain dot segments -------------------------------------------------
    ("dotdot", "/../secret.txt", REJECTED),
    ("dotdot-alone", "/..", REJECTED),
    ("dotdot-slash", "/../", REJECTED),
    ("dotdot-after-sub", "/sub/../../secret.txt", REJECTED),
    ("dotdot-deep", "/../../../../../../etc/passwd", REJECTED),
    ("dot", "/./secret.txt", REJECTED),
    ("dot-alone", "/.", REJECTED),
    ("three-dots", "/.../secret.txt", REJECTED),
    ("four-dots", "/....//secret.txt", REJECTED),
    ("dotdot-space", "/..%20/secret.txt", REJECTED),
    ("space-dotdot", "/%20../secret.txt", REJECTED),
    ("dot-space", "/. /secret.txt", REJECTED),
    ("lone-space", "/%20", REJECTED),
    # -- percent-encoded dots -----------------------------------------------
    ("enc-dotdot-lower", "/%2e%2e/secret.txt", REJECTED),
    ("enc-dotdot-upper", "/%2E%2E/secret.txt", REJECTED),
    ("enc-dot-second", "/.%2e/secret.txt", REJECTED),
    ("enc-dot-first", "/%2e./secret.txt", REJECTED),
    ("enc-dot-alone", "/%2e", REJECTED),
    ("enc-dot-upper", "/%2E/secret.txt", REJECTED),
    ("enc-dotdot-after-sub", "/sub/%2e%2e/%2e%2e/secret.txt", REJECTED),
    # -- encoded slashes ----------------------------------------------------
    ("dotdot-enc-slash", "/..%2fsecret.txt", REJECTED),
    ("enc-slash-dotdot-enc-slash", "/%2f..%2fsecret.txt", REJECTED),
    ("all-encoded", "/%2e%2e%2fsecret.txt", REJECTED),
    ("all-encoded-deep", "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", REJECTED),
    ("enc-slash-upper", "/sub%2F..%2F..%2Fsecret.txt", REJECTED),
    ("enc-slash-in-name", "/sub%2ffile.txt", REJECTED),
    # -- backslashes --------------------------------------------------------
    ("dotdot-enc-backslash", "/..%5csecret.txt", REJECTED),
    ("enc-backslash-dotdot", "/%5c..%5csecret.txt", REJECTED),
    ("enc-backslash-upper", "/%5C%2E%2E%5Csecret.txt", REJECTED),
    ("raw-backslashes", "/\\..\\secret.txt", REJECTED),
    ("raw-backslash-dotdot", "/..\\secret.txt", REJECTED),
    ("raw-backslash-after-sub", "/sub\\..\\..\\secret.txt", REJECTED),
    ("enc-all-backslash", "/%2e%2e%5c%2e%2e%5csecret.txt", REJECTED),
    ("unc-raw", "\\\\server\\share\\secret.txt", REJECTED),
    ("unc-encoded", "/%5c%5cserver%5cshare", REJECTED),
    # -- NUL and control characters -----------------------------------------
    ("nul-encoded-suffix", "/secret.txt%00.html", REJECTED),
    ("nul-raw-suffix", "/secret.txt\x00.html", REJECTED),
    ("nul-encoded-alone", "/%00", REJECTED),
    ("nul-after-name", "/public.txt%00", REJECTED),
    ("nul-in-dotdot", "/.%00./secret.txt", REJECTED),
    ("dotdot-nul", "/..%00/secret.txt", REJECTED),
    ("newline", "/sub/%0a", REJECTED),
    ("crlf-injection", "/%0d%0aSet-Cookie:x=1", REJECTED),
    ("tab", "/%09", REJECTED),
    ("del", "/%7f", REJECTED),
    ("c1-nel", "/%c2%85", REJECTED),
    ("escape-char-raw", "/a\x1bb", REJECTED),
    # -- double encoding: decoded once, stays a literal name ----------------
    ("double-dotdot", "/%252e%252e/secret.txt", ["%2e%2e", "secret.txt"]),
    ("double-dotdot-slash", "/%252e%252e%252fsecret.txt", ["%2e%2e%2fsecret.txt"]),
    ("double-backslash", "/%252e%252e%255csecret.txt", ["%2e%2e%5csecret.txt"]),
    ("double-digits-encoded", "/%25%32%65%25%32%65/secret.txt", ["%2e%2e", "secret.txt"]),
    ("double-hidden-dot", "/.%252e/secret.txt", [".%2e", "secret.txt"]),
    # -- malformed percent-encoding -----------------------------------------
    ("percent-percent", "/%%32%65%%32%65/secret.txt", REJECTED),
    ("iis-unicode", "/%u002e%u002e/secret.txt", REJECTED),
    ("truncated-escape", "/%2", REJECTED),
    ("lone-percent", "/%", REJECTED),
    ("non-hex-escape", "/%zz", REJECTED),
    # -- invalid UTF-8 ------------------------------------------------------
    ("overlong-dots", "/%c0%ae%c0%ae/secret.txt", REJECTED),
    ("overlong-slash", "/..%c0%afsecret.txt", REJECTED),
    ("overlong-slash-alone", "/%c0%af", REJECTED),
    ("overlong-dot-3byte", "/%e0%80%ae%e0%80%ae", REJECTED),
    ("overlong-2e", "/%c0%2e%c0%2e", REJECTED),
    ("bad-continuation", "/%e0%40%ae", REJECTED),
    ("surrogate", "/%ed%a0%80", REJECTED),
    ("byte-ff", "/%ff", REJECTED),
    ("latin1-byte", "/caf%e9", REJECTED),
    # -- absolute paths and drives ------------------------------------------
    ("double-slash-root", "//etc/passwd", ["etc", "passwd"]),
    ("many-slashes", "////etc//passwd", ["etc", "passwd"]),
    ("enc-absolute", "/%2fetc%2fpasswd", REJECTED),
    ("enc-absolute-upper", "/%2Fetc/passwd", REJECTED),
    ("drive-raw-backslash", "C:\\", REJECTED),
    ("drive-segment", "/C:/secret.txt", REJECTED),
    ("drive-encoded", "/c%3a/secret.txt", REJECTED),
    ("drive-relative", "/c:secret.txt", REJECTED),
    ("drive-enc-backslash", "/C:%5csecret.txt", REJECTED),
    ("no-leading-slash", "etc/passwd", ["etc", "passwd"]),
    # -- URL-looking segments are names -------------------------------------
    ("file-scheme-segment", "/file:", ["file:"]),
    ("file-url-in-path", "/file:///etc/passwd", ["file:", "etc", "passwd"]),
    ("file-url-encoded", "/file:%2f%2f%2fetc%2fpasswd", REJECTED),
    ("tilde", "/~/secret.txt", ["~", "secret.txt"]),
    ("env-var", "/$HOME/secret.txt", ["$HOME", "secret.txt"]),
    ("tomcat-semicolon", "/..;/secret.txt", ["..;", "secret.txt"]),
    ("semicolon-after-sub", "/sub/..;/..;/secret.txt", ["sub", "..;", "..;", "secret.txt"]),
    # -- Unicode look-alikes are names --------------------------------------
    ("one-dot-leader", "/%e2%80%a4%e2%80%a4/secret.txt", ["\u2024\u2024", "secret.txt"]),
    ("one-dot-leader-raw", "/\u2024\u2024/secret.txt", ["\u2024\u2024", "secret.txt"]),
    ("fullwidth-dots", "/%ef%bc%8e%ef%bc%8e/secret.txt", ["\uff0e\uff0e", "secret.txt"]),
    ("division-slash", "/%e2%88%95etc%e2%88%95passwd", ["\u2215etc\u2215passwd"]),
    ("fullwidth-solidus", "/%ef%bc%8f..%ef%bc%8f", ["\uff0f..\uff0f"]),
    ("fullwidth-backslash", "/..%ef%bc%bcsecret.txt", ["..\uff3csecret.txt"]),
    # -- symlinks in the tree (segments fine, resolve() refuses) --------------
    ("through-dir-link", "/escape/secret2.txt", ["escape", "secret2.txt"]),
    ("file-link-out", "/secret_link.txt", ["secret_link.txt"]),
    ("parent-link", "/up/secret.txt", ["up", "secret.txt"]),
    ("parent-link-back-in", "/up/root/public.txt", ["up", "root", "public.txt"]),
    # -- same name as the secret, but under the root ------------------------
    ("secret-name-in-root", "/secret.txt", ["secret.txt"]),
    ("hidden-git", "/.git/config", [".git", "config"]),
    # -- lengths -------------------------------------------------------------
    ("name-too-long", "/" + LONG, REJECTED),
    ("name-too-long-encoded", "/" + "%61" * 256, REJECTED),
    ("name-too-long-utf8", "/" + "\u00e9" * 128, REJECTED),
    ("path-too-long", "/" + "a/" * 2100, REJECTED),
    ("name-at-limit", "/sub/" + "a" * 255, ["sub", "a" * 255]),
    ("deep-but-fine", "/" + "d/" * 500 + "x", ["d"] * 500 + ["x"]),
]

TRAVERSAL_PARAMS = [pytest.param(raw, expected, id=name) for name, raw, expected in TRAVERSAL]


def test_table_is_big_and_ids_unique() -> None:
    names = [name for name, _, _ in TRAVERSAL]
    assert len(names) == len(set(names))
    assert len(TRAVERSAL) >= 60


@pytest.mark.parametrize(("raw", "expected"), TRAVERSAL_PARAMS)
def test_request_segments(raw: str, expected: list[str] | None) -> None:
    if expected is REJECTED:
        with pytest.raises(PathRejected):
            request_segments(raw)
    else:
        assert request_segments(raw) == expected


@pytest.mark.parametrize("show_hidden", [False, True], ids=["hidden-off", "hidden-on"])
@pytest.mark.parametrize("follow", [False, True], ids=["nofollow", "follow"])
@pytest.mark.parametrize(("raw", "expected"), TRAVERSAL_PARAMS)
def test_never_escapes_root(
    tree: Tree, raw: str, expected: list[str] | None, follow: bool, show_hidden: bool
) -> None:
    try:
        path = resolve(
            tree.root, request_segments(raw), follow_symlinks=follow, show_hidden=show_hidden
        )
    except PathRejected:
        return
    real = path.resolve()
    assert real.is_relative_to(tree.root)
    assert real not in tree.secrets
    if real.is_file():
        assert real.read_bytes() != SECRET


# -- ordinary paths ----------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "relative"),
    [
        pytest.param("/", ".", id="root"),
        pytest.param("", ".", id="empty"),
        pytest.param("/public.txt", "public.txt", id="file"),
        pytest.param("/sub/", "sub", id="dir-trailing-slash"),
        pytest.param("/sub/file.txt", "sub/file.txt", id="nested"),
        pytest.param("/sub//file.txt", "sub/file.txt", id="double-slash"),
        pytest.param("/%73ub/file%2Etxt", "sub/file.txt", id="encoded-letters"),
        pytest.param("/missing.txt", "missing.txt", id="missing-file"),
        pytest.param("/nope/deeper/x", "nope/deeper/x", id="missing-dir"),
        pytest.param("/public.txt/x", "public.txt/x", id="file-as-dir"),
        pytest.param("/with%20space.txt", "with space.txt", id="space"),
        pytest.param("/%E2%98%83.txt", "\u2603.txt", id="unicode"),
        pytest.param("/a%23b%3Fc%25d", "a#b?c%d", id="reserved-chars"),
        pytest.param("/name.", "name.", id="trailing-dot"),
        pytest.param("/a..b", "a..b", id="inner-dots"),
    ],
)
@pytest.mark.parametrize("follow", [False, True], ids=["nofollow", "follow"])
def test_ordinary_paths(tree: Tree, raw: str, relative: str, follow: bool) -> None:
    path = resolve(tree.root, request_segments(raw), follow_symlinks=follow, show_hidden=False)
    assert path == tree.root / relative


def test_resolve_no_segments_is_root(tree: Tree) -> None:
    assert resolve(tree.root, [], follow_symlinks=False, show_hidden=False) == tree.root


@pytest.mark.parametrize(
    "segments",
    [
        pytest.param([".."], id="dotdot"),
        pytest.param(["."], id="dot"),
        pytest.param(["sub", ".."], id="sub-dotdot"),
        pytest.param(["a/b"], id="slash"),
        pytest.param(["/etc"], id="absolute"),
        pytest.param(["a\\b"], id="backslash"),
        pytest.param(["a\x00"], id="nul"),
        pytest.param([""], id="empty"),
        pytest.param(["C:"], id="drive"),
        pytest.param(["\udcff"], id="lone-surrogate"),
        pytest.param([LONG], id="too-long"),
    ],
)
@pytest.mark.parametrize("follow", [False, True], ids=["nofollow", "follow"])
def test_resolve_checks_segments_itself(tree: Tree, segments: list[str], follow: bool) -> None:
    with pytest.raises(PathRejected):
        resolve(tree.root, segments, follow_symlinks=follow, show_hidden=True)


# -- hidden files --------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("/.hidden.txt", id="hidden-file"),
        pytest.param("/.git/config", id="hidden-dir"),
        pytest.param("/.git/", id="hidden-dir-itself"),
        pytest.param("/sub/.profile", id="hidden-in-sub"),
        pytest.param("/%2Ehidden.txt", id="hidden-encoded-dot"),
    ],
)
@pytest.mark.parametrize("follow", [False, True], ids=["nofollow", "follow"])
def test_hidden_rejected_unless_shown(tree: Tree, raw: str, follow: bool) -> None:
    segments = request_segments(raw)
    with pytest.raises(PathRejected):
        resolve(tree.root, segments, follow_symlinks=follow, show_hidden=False)
    path = resolve(tree.root, segments, follow_symlinks=follow, show_hidden=True)
    assert path == tree.root.joinpath(*segments)


def test_dot_segments_rejected_even_with_show_hidden(tree: Tree) -> None:
    for raw in ("/..", "/.", "/...", "/%2e%2e"):
        with pytest.raises(PathRejected):
            resolve(tree.root, request_segments(raw), follow_symlinks=True, show_hidden=True)


# -- symlinks ------------------------------------------------------------------

BOTH = pytest.mark.parametrize("follow", [False, True], ids=["nofollow", "follow"])


def _resolve(tree: Tree, raw: str, *, follow: bool, show_hidden: bool = False) -> Path:
    segments = request_segments(raw)
    return resolve(tree.root, segments, follow_symlinks=follow, show_hidden=show_hidden)


@BOTH
@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("/secret_link.txt", id="file-link-out"),
        pytest.param("/escape/secret2.txt", id="dir-link-out"),
        pytest.param("/escape/", id="dir-link-out-itself"),
        pytest.param("/up/secret.txt", id="link-to-parent"),
        pytest.param("/escape/missing", id="missing-under-link-out"),
    ],
)
def test_symlink_out_of_root_always_rejected(tree: Tree, raw: str, follow: bool) -> None:
    with pytest.raises(PathRejected):
        _resolve(tree, raw, follow=follow)


@BOTH
def test_relative_link_climbing_out(fresh: Tree, follow: bool) -> None:
    (fresh.root / "sub" / "climb").symlink_to("../../secret.txt")
    with pytest.raises(PathRejected):
        _resolve(fresh, "/sub/climb", follow=follow)


@BOTH
def test_absolute_link_to_filesystem_root(fresh: Tree, follow: bool) -> None:
    (fresh.root / "slash").symlink_to("/", target_is_directory=True)
    with pytest.raises(PathRejected):
        _resolve(fresh, "/slash/etc/passwd", follow=follow)


@BOTH
def test_dangling_link_out_of_root(fresh: Tree, follow: bool) -> None:
    (fresh.root / "dangling").symlink_to(fresh.base / "not-yet-there.txt")
    with pytest.raises(PathRejected):
        _resolve(fresh, "/dangling", follow=follow)


@BOTH
def test_chain_of_links_ending_outside(fresh: Tree, follow: bool) -> None:
    (fresh.root / "b").symlink_to(fresh.base / "secret.txt")
    (fresh.root / "a").symlink_to("b")
    with pytest.raises(PathRejected):
        _resolve(fresh, "/a", follow=follow)


def test_link_inside_root_needs_follow(fresh: Tree) -> None:
    (fresh.root / "alias.txt").symlink_to("public.txt")
    with pytest.raises(PathRejected):
        _resolve(fresh, "/alias.txt", follow=False)
    # With follow_symlinks the *real* path comes back: what was checked is what is opened.
    assert _resolve(fresh, "/alias.txt", follow=True) == fresh.root / "public.txt"


def test_symlinked_parent_directory(fresh: Tree) -> None:
    (fresh.root / "linkdir").symlink_to("sub", target_is_directory=True)
    with pytest.raises(PathRejected):
        _resolve(fresh, "/linkdir/file.txt", follow=False)
    assert _resolve(fresh, "/linkdir/file.txt", follow=True) == fresh.root / "sub" / "file.txt"


def test_symlinked_grandparent_directory(fresh: Tree) -> None:
    (fresh.root / "sub" / "deeper").mkdir()
    (fresh.root / "sub" / "deeper" / "f.txt").write_bytes(b"f")
    (fresh.root / "s").symlink_to("sub", target_is_directory=True)
    with pytest.raises(PathRejected):
        _resolve(fresh, "/s/deeper/f.txt", follow=False)
    assert _resolve(fresh, "/s/deeper/f.txt", follow=True) == fresh.root / "sub/deeper/f.txt"


def test_link_out_and_back_in_is_inside(tree: Tree) -> None:
    # up -> .. ; up/root/public.txt really is the root's public.txt
    with pytest.raises(PathRejected):
        _resolve(tree, "/up/root/public.txt", follow=False)
    assert _resolve(tree, "/up/root/public.txt", follow=True) == tree.root / "public.txt"


def test_link_to_root_itself(fresh: Tree) -> None:
    (fresh.root / "self").symlink_to(".", target_is_directory=True)
    with pytest.raises(PathRejected):
        _resolve(fresh, "/self/public.txt", follow=False)
    assert _resolve(fresh, "/self/self/public.txt", follow=True) == fresh.root / "public.txt"


def test_link_to_hidden_file_is_hidden(fresh: Tree) -> None:
    (fresh.root / "visible.txt").symlink_to(".hidden.txt")
    (fresh.root / "gitdir").symlink_to(".git", target_is_directory=True)
    for raw in ("/visible.txt", "/gitdir/config"):
        with pytest.raises(PathRejected):
            _resolve(fresh, raw, follow=True, show_hidden=False)
        assert _resolve(fresh, raw, follow=True, show_hidden=True).is_relative_to(fresh.root)


def test_dangling_link_inside_root(fresh: Tree) -> None:
    (fresh.root / "later").symlink_to("not-yet.txt")
    with pytest.raises(PathRejected):
        _resolve(fresh, "/later", follow=False)
    assert _resolve(fresh, "/later", follow=True) == fresh.root / "not-yet.txt"


def test_symlink_loop(fresh: Tree) -> None:
    (fresh.root / "loop").symlink_to("loop")
    (fresh.root / "ping").symlink_to("pong")
    (fresh.root / "pong").symlink_to("ping")
    for raw in ("/loop", "/ping", "/loop/x"):
        with pytest.raises(PathRejected):
            _resolve(fresh, raw, follow=False)
        try:
            path = _resolve(fresh, raw, follow=True)
        except PathRejected:
            continue
        # Not refused up front, but the caller's open fails (404), inside the root.
        assert path.is_relative_to(fresh.root)
        with pytest.raises(OSError):
            path.open("rb")


def test_secret_swapped_for_link_after_listing(fresh: Tree) -> None:
    """A plain file replaced by a link out of the root is refused on the next request."""
    assert _resolve(fresh, "/public.txt", follow=False) == fresh.root / "public.txt"
    (fresh.root / "public.txt").unlink()
    (fresh.root / "public.txt").symlink_to(fresh.base / "secret.txt")
    for follow in (False, True):
        with pytest.raises(PathRejected):
            _resolve(fresh, "/public.txt", follow=follow)


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(PermissionError(13, "Permission denied"), id="eacces"),
        pytest.param(OSError(36, "File name too long"), id="enametoolong"),
        pytest.param(OSError(40, "Too many levels of symbolic links"), id="eloop"),
        pytest.param(ValueError("embedded null byte"), id="value-error"),
    ],
)
def test_lstat_failures_become_path_rejected(
    tree: Tree, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    def failing_lstat(path: str) -> os.stat_result:
        raise error

    monkeypatch.setattr("trio_webkit.apps._paths.os.lstat", failing_lstat)
    with pytest.raises(PathRejected):
        _resolve(tree, "/sub/file.txt", follow=False)


def test_missing_component_stops_the_symlink_walk(
    tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[str] = []
    real_lstat = os.lstat

    def counting_lstat(path: str) -> os.stat_result:
        seen.append(path)
        return real_lstat(path)

    monkeypatch.setattr("trio_webkit.apps._paths.os.lstat", counting_lstat)
    path = _resolve(tree, "/sub/missing/a/b/c", follow=False)
    assert path == tree.root / "sub/missing/a/b/c"
    assert [Path(p).name for p in seen] == ["sub", "missing"]
