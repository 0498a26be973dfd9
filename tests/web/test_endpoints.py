"""The exam page's HTTP surface on every backend: ``/``, its static files and
``/web/config.json``."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from newspeech.colleges.repository import CollegeTypeRepository
from newspeech.config import Settings
from newspeech.web import STATIC_DIR
from tests.test_app import client_for


@pytest.fixture(scope="module")
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """One app for the tests that only fetch pages and static files: building and starting one
    (its routes, the start-up collection) took ~2 s of CPU per test."""
    async with client_for(settings) as client:
        yield client


MODULES = ("main.js", "protocol.js", "audio.js", "report.js")
WORKLETS = ("capture-worklet.js", "playback-worklet.js")
JAVASCRIPT = {"text/javascript", "application/javascript"}


async def test_config_lists_the_college_types_stored_in_the_database(
    settings: Settings, engine: AsyncEngine, db: AsyncSession
) -> None:
    colleges = CollegeTypeRepository(db)
    await colleges.get_or_create("nursing", name="Nursing", description="Wards and care")
    await colleges.get_or_create("law", name="Law")
    await db.commit()

    async with client_for(settings) as client:
        response = await client.get("/web/config.json")

    assert response.status_code == 200
    assert response.json() == {
        "college_types": [
            {"code": "law", "name": "Law", "description": None},
            {"code": "nursing", "name": "Nursing", "description": "Wards and care"},
        ],
        "exam_socket_path": "/ws/exam",
        "input_sample_rate": 16_000,
        "frame_ms": 20,
    }


async def test_config_with_no_college_types_is_an_empty_list(
    settings: Settings, engine: AsyncEngine
) -> None:
    async with client_for(settings) as client:
        response = await client.get("/web/config.json")
    assert response.json()["college_types"] == []


async def test_root_serves_the_exam_page_and_docs_stay_available(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    docs = await client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/web/static/js/main.js">' in page.text
    assert 'role="alert"' in page.text
    assert docs.status_code == 200


def referenced_urls(html: str) -> list[str]:
    """Every URL an API docs page loads: src / href / spec-url attributes and the ``url:`` the
    Swagger UI script fetches the schema from."""
    pattern = r"""(?:src|href|spec-url)="([^"]+)"|\burl: '([^']+)'"""
    return [attribute or script for attribute, script in re.findall(pattern, html)]


@pytest.mark.parametrize(
    ("path", "asset"), [("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")]
)
async def test_api_docs_load_only_local_assets(
    client: httpx.AsyncClient, path: str, asset: str
) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    urls = referenced_urls(page.text)
    assert any(url.endswith(asset) for url in urls), urls
    assert "/openapi.json" in urls
    assert "://" not in page.text  # no absolute URL anywhere, a CDN included
    for url in urls:
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        response = await client.get(url)
        assert response.status_code == 200, url
        assert response.content, url


@pytest.mark.parametrize("name", MODULES + WORKLETS)
async def test_scripts_are_served_as_javascript(client: httpx.AsyncClient, name: str) -> None:
    # Browsers refuse module scripts and worklets served with any other MIME type.
    response = await client.get(f"/web/static/js/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] in {
        "text/javascript",
        "application/javascript",
    }


EXAMINER_MODULES = (
    "main.js",
    "api.js",
    "dom.js",
    "audio.js",
    "answers.js",
    "sessions.js",
    "review.js",
    "questions.js",
    "importer.js",
    "statistics.js",
    "ask.js",
)


async def test_examiner_page_is_served_with_its_modules_and_stylesheet(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/examiner")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/web/static/js/examiner/main.js">' in page.text
    for name in EXAMINER_MODULES:
        module = await client.get(f"/web/static/js/examiner/{name}")
        assert module.status_code == 200, name
        assert module.headers["content-type"].split(";")[0] in JAVASCRIPT
    css = await client.get("/web/static/examiner.css")
    assert css.status_code == 200
    assert "@media print" in css.text


async def test_analyst_page_is_served_with_its_module_and_stylesheet(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/analyst")
    module = await client.get("/web/static/js/analyst/main.js")
    css = await client.get("/web/static/analyst.css")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-cache"
    assert '<script type="module" src="/web/static/js/analyst/main.js">' in page.text
    assert module.status_code == 200
    assert module.headers["content-type"].split(";")[0] in JAVASCRIPT
    assert css.status_code == 200


async def test_vendored_chart_js_matches_the_version_and_hash_in_its_readme(
    client: httpx.AsyncClient,
) -> None:
    folder = STATIC_DIR / "vendor" / "chartjs"
    readme = (folder / "README.md").read_text()
    (expected,) = re.findall(r"\| sha256 \| `([0-9a-f]{64})` \|", readme)
    served = await client.get("/web/static/vendor/chartjs/chart.umd.min.js")
    assert served.status_code == 200
    assert hashlib.sha256(served.content).hexdigest() == expected
    version = re.search(r"version \*\*([0-9.]+)\*\*", readme)
    assert version is not None
    assert f"Chart.js v{version.group(1)}" in served.text[:200]
    assert "MIT License" in (folder / "LICENSE.md").read_text()
