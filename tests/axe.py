"""axe-core (the accessibility rules engine, from npm) for browser tests: fetched once, verified, injected.

The release is pinned by version and by the npm registry's sha512 ``dist.integrity``; the tarball is
fetched straight from the registry (no npm needed), checked, and ``package/axe.min.js`` kept in
``.cache/axe-core/<version>/``. :func:`run_axe` injects it into the page with Selenium (a script run
through WebDriver is not subject to the page's Content-Security-Policy) and returns the violations of
the WCAG 2.0/2.1 A and AA rules.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import urllib.request
from pathlib import Path

VERSION = "4.14.1"
INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
TARBALL = f"https://registry.npmjs.org/axe-core/-/axe-core-{VERSION}.tgz"
CACHE = Path(__file__).resolve().parent.parent / ".cache" / "axe-core" / VERSION / "axe.min.js"
TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")


class AxeUnavailable(RuntimeError):
    """axe-core could not be fetched or did not match its pinned integrity."""


def _matches(data: bytes) -> bool:
    algorithm, _, expected = INTEGRITY.partition("-")
    return base64.b64encode(hashlib.new(algorithm, data).digest()).decode() == expected


def axe_source(cache: Path = CACHE, timeout: float = 60) -> str:
    """The text of ``axe.min.js``: from the cache, else downloaded once from the npm registry and verified."""
    if cache.exists():
        return cache.read_text(encoding="utf-8")
    try:
        with urllib.request.urlopen(TARBALL, timeout=timeout) as reply:
            data = reply.read()
    except OSError as exc:
        raise AxeUnavailable(f"could not download axe-core {VERSION} from {TARBALL}: {exc} "
                             "(set HAILONG_OFFLINE=1 to skip the accessibility test without network)") from exc
    if not _matches(data):
        raise AxeUnavailable(f"axe-core {VERSION} from {TARBALL} does not match its pinned integrity {INTEGRITY}")
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = archive.extractfile("package/axe.min.js")
        if member is None:
            raise AxeUnavailable(f"axe-core {VERSION}: package/axe.min.js missing from the tarball")
        source = member.read().decode("utf-8")
    cache.parent.mkdir(parents=True, exist_ok=True)
    partial = cache.with_suffix(f".{os.getpid()}.part")
    partial.write_text(source, encoding="utf-8")
    partial.replace(cache)  # atomic: a parallel run never reads half a file
    return source


_RUN = """
const done = arguments[arguments.length - 1];
axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}, resultTypes: ['violations']})
   .then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                            nodes: v.nodes.map(n => ({target: n.target, summary: n.failureSummary}))}))))
   .catch(e => done({error: String(e)}));
"""


def run_axe(driver, source: str | None = None) -> list[dict]:
    """The axe violations (WCAG 2.1 A/AA rules) of the page open in ``driver``: dicts with ``id``,
    ``impact``, ``help`` and ``nodes`` (each a ``target`` selector list and a ``summary``)."""
    import time

    from selenium.common.exceptions import JavascriptException

    driver.set_script_timeout(60)
    for attempt in range(5):
        # A form just sent may still be loading its answer: wait for the page, and inject axe into
        # the page that will run it (a navigation between the two calls drops the script).
        deadline = time.monotonic() + 10
        while driver.execute_script("return document.readyState") != "complete" and time.monotonic() < deadline:
            time.sleep(0.05)
        if not driver.execute_script("return typeof window.axe === 'object'"):
            driver.execute_script(source or axe_source())
        try:
            result = driver.execute_async_script(_RUN, list(TAGS))
        except JavascriptException as exc:
            if "axe is not defined" in str(exc) and attempt < 4:
                time.sleep(0.2)
                continue
            raise
        if isinstance(result, dict) and "error" in result:
            raise RuntimeError(f"axe.run failed: {result['error']}")
        return result
    raise RuntimeError("axe could not be run on the page")


def serious(violations: list[dict]) -> list[dict]:
    """The violations a page must not have: impact critical or serious."""
    return [v for v in violations if v["impact"] in ("critical", "serious")]


def report(page: str, violations: list[dict]) -> str:
    """One line per violation and node: page, rule id, impact, target selectors."""
    lines = []
    for v in violations:
        targets = [" ".join(map(str, n["target"])) for n in v["nodes"]]
        shown = "; ".join(targets[:5]) + (f"; … {len(targets) - 5} more" if len(targets) > 5 else "")
        lines.append(f"{page}: {v['id']} [{v['impact']}] ×{len(targets)} — {v['help']} — {shown}")
    return "\n".join(lines)
