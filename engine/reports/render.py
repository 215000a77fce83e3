"""Rendering Tandem's documents: HTML from the templates, images inside it, PDF from the HTML.

One place for what every document shares (the progress report and session
notes, :mod:`engine.reports.build`; the baseline report,
:mod:`engine.assessment.report`; the family's sheet,
:mod:`engine.homepack.sheet`): the jinja2 environment over
``engine/reports/templates`` (:func:`environment`), PNG plots embedded as
data URIs (:func:`data_uri`), and WeasyPrint, imported only when a PDF is
asked for (:func:`import_weasyprint`, :func:`html_to_pdf`).
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import logging

from engine.reports.sentences import duration_text, prompt_text
from engine.scoring.display import format_score

__all__ = ["data_uri", "day_text", "environment", "html_to_pdf", "import_weasyprint"]


@functools.cache
def environment():
    """The jinja2 environment of the templates (made once; it caches each compiled template).

    HTML is autoescaped and an undefined name is an error. Filters: ``score``
    (:func:`~engine.scoring.display.format_score`), ``prompts``
    (:func:`~engine.reports.sentences.prompt_text`) and ``duration``
    (:func:`~engine.reports.sentences.duration_text`), ``day`` (:func:`day_text`).
    """
    import jinja2  # heavy (80 ms): only when a document is rendered

    env = jinja2.Environment(loader=jinja2.PackageLoader("engine.reports", "templates"),
                             autoescape=jinja2.select_autoescape(["html"]), trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["score"] = format_score
    env.filters["prompts"] = prompt_text
    env.filters["duration"] = duration_text
    env.filters["day"] = day_text
    return env


def day_text(iso: str | None) -> str:
    """An ISO date (or date-time) as the documents show a day: ``21 Dec 2026``; anything else as it is."""
    try:
        return f"{dt.date.fromisoformat(str(iso)[:10]):%d %b %Y}"
    except ValueError:
        return str(iso)


def data_uri(png: bytes | None) -> str | None:
    """A PNG as a ``data:image/png;base64,...`` URI for an ``<img src>`` (None stays None)."""
    return None if png is None else "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def import_weasyprint():
    """WeasyPrint, imported (0.4 s the first time), with its warnings about CSS it ignores kept quiet."""
    import weasyprint  # heavy (0.4 s): only when a PDF is asked for

    logging.getLogger("weasyprint").setLevel(logging.ERROR)
    logging.getLogger("fontTools").setLevel(logging.ERROR)
    return weasyprint


def html_to_pdf(html: str, base_url: str) -> bytes:
    """The HTML page laid out as PDF bytes; ``base_url`` is the folder relative links are read from."""
    return import_weasyprint().HTML(string=html, base_url=base_url).write_pdf()
