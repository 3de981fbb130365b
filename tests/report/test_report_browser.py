"""The report in a real browser: headless Chromium (Debian's `chromium`, with `fonts-noto-cjk` for the notes'
Chinese) opens the pages from file:// with no server, every picture loads (the pages' script counts the images
whose naturalWidth is 0 into <body data-broken-images>), no console message is logged (script errors and
console.error land there), and a screenshot is taken.  Skipped, saying why, where chromium is not installed."""
from __future__ import annotations

import re
import shutil
import subprocess

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install "
                                "chromium fonts-noto-cjk): the report is not checked in a browser here")


def _chromium(profile, *args) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
                           "--virtual-time-budget=5000", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def open_page(page, profile) -> tuple:
    """``(images, broken images, console lines)`` of a page as Chromium loads it."""
    res = _chromium(profile, "--dump-dom", page.as_uri())
    body = re.search(r"<body[^>]*>", res.stdout)
    assert body, f"no page came back for {page}: {res.stderr[-2000:]}"
    counts = dict(re.findall(r'data-(images|broken-images)="(\d+)"', body.group(0)))
    assert set(counts) == {"images", "broken-images"}, f"the page's load script did not run: {body.group(0)}"
    console = [ln for ln in res.stderr.splitlines() if ":CONSOLE" in ln]
    return int(counts["images"]), int(counts["broken-images"]), console


def test_the_checks_see_a_broken_picture_and_a_script_error(built, tmp_path):
    _, site = built
    page = site.parent / "broken.html"   # beside the site, so the site itself stays clean
    text = (site / "index.html").read_text(encoding="utf-8").replace(
        "<main>", '<main><img src="site/figures/missing.png"><script>console.error("boom")</script>')
    page.write_text(text, encoding="utf-8")
    images, broken, console = open_page(page, tmp_path / "profile")
    assert (images, broken) == (1, 1) and any("boom" in ln for ln in console), console


def test_the_pages_load_from_disk_with_their_pictures_and_no_console_message(built, tmp_path):
    _, site = built
    seen = 0
    # the index and every page with pictures (a browser start per page: the pages without any are left out)
    pages = [p for p in sorted(site.glob("*.html")) if p.name == "index.html" or "<img " in p.read_text("utf-8")]
    assert len(pages) >= 4
    for page in pages:
        images, broken, console = open_page(page, tmp_path / "profile")
        assert broken == 0, f"{page.name}: {broken} of {images} pictures did not load"
        assert not console, f"{page.name} logged to the console: {console}"
        seen += images
    assert seen >= 3  # two experiment plots and a run's pictures at least


def test_a_screenshot_of_the_index_shows_the_page(built, tmp_path):
    _, site = built
    shot = tmp_path / "index.png"
    res = _chromium(tmp_path / "profile", f"--screenshot={shot}", "--window-size=1200,1600",
                    (site / "index.html").as_uri())
    assert shot.is_file(), res.stderr[-2000:]
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 1200
    assert len(png) > 30_000  # text, badges and boxes; a blank page compresses to a few kB
