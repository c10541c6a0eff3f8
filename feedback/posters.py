"""QR posters (A4) and table cards (A6) as PDF bytes, one page per service point."""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from flask_babel import force_locale
from flask_babel import gettext as _

from surveys import catalog

from .extensions import db
from .models import Commune, ServicePoint

if TYPE_CHECKING:  # fpdf (with fontTools, numpy) and segno load with the first poster, not at start-up
    from fpdf import FPDF

__all__ = ["SIZES", "PosterText", "poster_link", "poster_points", "poster_texts", "posters_pdf", "results_link"]

SIZES = ("a4", "a6")
BLUE = (11, 79, 138)


@dataclass(frozen=True)
class Layout:
    """Page geometry in millimetres and font sizes in points."""

    width: float
    height: float
    band: float
    margin: float
    qr: float
    title: float
    heading: float
    body: float
    small: float
    results_qr: float  # the second, small QR code: the commune's public results page


LAYOUTS = {
    "a4": Layout(210, 297, 26, 15, 114, 22, 19, 13, 9.5, 30),
    "a6": Layout(105, 148, 13, 6, 46, 12, 10.5, 7.5, 5.5, 18),
}


@dataclass(frozen=True)
class PosterText:
    """One text in both languages; a poster always shows Vietnamese first, English second."""

    vi: str
    en: str


def poster_texts() -> dict[str, PosterText]:
    """The poster's fixed texts from the translation catalogs, in Vietnamese and English."""

    def both(make) -> PosterText:
        with force_locale("vi"):
            vi = make()
        with force_locale("en"):
            en = make()
        return PosterText(vi, en)

    return {
        "band": both(lambda: _("Your feedback on public services")),
        "call": both(lambda: _("Scan the QR code with your phone camera to tell us about the service here")),
        "promise": both(lambda: _("About one minute · No name needed · Anonymous")),
        "typing": both(lambda: _("No QR reader? Type this address:")),
        "privacy": both(
            lambda: _(
                "We never ask for your name or phone number. Answers are only used in summaries of many "
                "answers that help the commune improve its services."
            )
        ),
        "results": both(lambda: _("See your commune's results")),
    }


def poster_link(base_url: str, token: str) -> str:
    """The absolute survey link a poster's QR code encodes."""
    return f"{base_url.rstrip('/')}/s/{token}"


def results_link(base_url: str, commune_code: str) -> str:
    """The absolute link of a commune's public results page (the poster's second QR code)."""
    return f"{base_url.rstrip('/')}/results/{commune_code}"


def poster_points(*, commune_code: str | None = None, province_code: str | None = None) -> list[ServicePoint]:
    """Active service points of one commune or a whole province, ordered by commune and id."""
    query = (
        db.select(ServicePoint)
        .join(ServicePoint.commune)
        .where(ServicePoint.active)
        .options(db.contains_eager(ServicePoint.commune))
        .order_by(Commune.code, ServicePoint.id)
    )
    if commune_code is not None:
        query = query.where(ServicePoint.commune_code == commune_code)
    if province_code is not None:
        query = query.where(Commune.province_code == province_code)
    return list(db.session.execute(query).scalars())


@lru_cache(maxsize=1)
def _font_dir() -> Path:
    """DejaVu Sans from matplotlib's wheel: a Unicode font with every Vietnamese diacritic."""
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("matplotlib (which ships the DejaVu fonts) is not installed")
    return Path(spec.submodule_search_locations[0]) / "mpl-data" / "fonts" / "ttf"


def _new_pdf(layout: Layout) -> FPDF:
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format=(layout.width, layout.height))
    pdf.set_auto_page_break(False)
    pdf.set_margins(layout.margin, layout.margin, layout.margin)
    fonts = _font_dir()
    pdf.add_font("DejaVu", "", str(fonts / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(fonts / "DejaVuSans-Bold.ttf"))
    pdf.add_font("DejaVuMono", "", str(fonts / "DejaVuSansMono.ttf"))
    pdf.set_creator("Lào Cai citizen feedback")
    return pdf


def _draw_qr(pdf: FPDF, data: str, x: float, y: float, size: float, *, error: str = "m") -> None:
    """The QR code as filled vector rectangles, one per horizontal run of dark modules."""
    import segno

    qr = segno.make(data, error=error, micro=False)
    matrix = qr.matrix
    quiet = 4  # the quiet zone the standard asks for, in modules
    module = size / (len(matrix) + 2 * quiet)
    pdf.set_fill_color(0, 0, 0)
    for row_index, row in enumerate(matrix):
        top = y + (row_index + quiet) * module
        start = None
        for col, dark in enumerate([*row, 0]):
            if dark and start is None:
                start = col
            elif not dark and start is not None:
                # A hair of overlap so that no white seams appear between rows when printed.
                pdf.rect(x + (start + quiet) * module, top, (col - start) * module, module * 1.02, style="F")
                start = None


def _centered(
    pdf: FPDF,
    layout: Layout,
    text: str,
    size: float,
    *,
    bold: bool = False,
    family: str = "DejaVu",
    colour: tuple[int, int, int] = (26, 26, 26),
    gap: float = 0.0,
) -> None:
    """Centred, wrapped text. Line breaks are computed once per text and reused on every page,
    because fpdf2's line breaking dominates the time of a province batch."""
    from fpdf.enums import Align, XPos, YPos

    style = "B" if bold else ""
    pdf.set_font(family, style, size)
    pdf.set_text_color(*colour)
    width = layout.width - 2 * layout.margin
    cache: dict = pdf.__dict__.setdefault("_line_cache", {})
    key = (text, family, style, size)
    if key not in cache:
        cache[key] = pdf.multi_cell(width, size * 0.45, text, align=Align.C, dry_run=True, output="LINES")
    for line in cache[key]:
        pdf.cell(width, size * 0.45, line, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if gap:
        pdf.ln(gap)


def _draw_poster(
    pdf: FPDF, layout: Layout, texts: dict[str, PosterText], point: ServicePoint, link: str, results: str | None = None
) -> None:
    survey = catalog().for_area(point.service_area)
    unit = layout.width / 210  # spacing scales with the page
    pdf.add_page()
    pdf.set_fill_color(*BLUE)
    pdf.rect(0, 0, layout.width, layout.band, style="F")
    pdf.set_y(layout.band * 0.22)
    _centered(pdf, layout, texts["band"].vi.upper(), layout.heading, bold=True, colour=(255, 255, 255))
    _centered(pdf, layout, texts["band"].en, layout.body, colour=(255, 255, 255))
    pdf.set_y(layout.band + 7 * unit)
    _centered(pdf, layout, point.commune.name, layout.title, bold=True)
    _centered(pdf, layout, point.name, layout.body + 1, gap=1 * unit)
    _centered(
        pdf, layout, f"{survey.title.vi} · {survey.title.en}", layout.small + 1, colour=(74, 74, 74), gap=4 * unit
    )
    _centered(pdf, layout, texts["call"].vi, layout.heading, bold=True, colour=BLUE)
    _centered(pdf, layout, texts["call"].en, layout.body)
    top = pdf.get_y() + 2 * unit
    _draw_qr(pdf, link, (layout.width - layout.qr) / 2, top, layout.qr)
    pdf.set_y(top + layout.qr + 1 * unit)
    _centered(pdf, layout, f"{texts['typing'].vi} / {texts['typing'].en}", layout.small, colour=(74, 74, 74))
    _centered(pdf, layout, link.split("://", 1)[-1], layout.body + 1, family="DejaVuMono", gap=4 * unit)
    _centered(pdf, layout, texts["promise"].vi, layout.body + 1, bold=True)
    _centered(pdf, layout, texts["promise"].en, layout.body - 1, gap=4 * unit)
    _centered(pdf, layout, texts["privacy"].vi, layout.small, colour=(74, 74, 74))
    _centered(pdf, layout, texts["privacy"].en, layout.small, colour=(74, 74, 74))
    if results is not None:
        _draw_results(pdf, layout, texts["results"], results, top=pdf.get_y() + 3 * unit)


def _draw_results(pdf: FPDF, layout: Layout, text: PosterText, link: str, *, top: float) -> None:
    """The second, small QR code (the commune's public results) with its text and short link beside it."""
    from fpdf.enums import XPos, YPos

    size, font = layout.results_qr, layout.body
    # (font family, style, size, colour, text): Vietnamese first, English, then the short link.
    lines = [
        ("DejaVu", "B", font, BLUE, text.vi),
        ("DejaVu", "", font - 1, (26, 26, 26), text.en),
        ("DejaVuMono", "", font - 2, (26, 26, 26), link.split("://", 1)[-1]),
    ]
    widths = []
    for family, style, points, _colour, words in lines:
        pdf.set_font(family, style, points)
        widths.append(pdf.get_string_width(words))
    label_width = min(max(widths) + 1, layout.width - 2 * layout.margin - size - 2)
    left = (layout.width - size - 2 - label_width) / 2  # QR code and text centred as one block
    # Low error correction: fewer, larger modules, so a small code still scans (it is printed indoors).
    _draw_qr(pdf, link, left, top, size, error="l")
    height = font * 0.45
    pdf.set_xy(left + size + 2, top + size / 2 - 1.5 * height)
    for family, style, points, colour, words in lines:
        pdf.set_font(family, style, points)
        pdf.set_text_color(*colour)
        pdf.cell(label_width, height, words, new_x=XPos.LEFT, new_y=YPos.NEXT)


def posters_pdf(points: Sequence[ServicePoint], *, base_url: str, size: str = "a4") -> bytes:
    """One PDF with a poster (``a4``) or table card (``a6``) page per service point.

    Every poster's QR code encodes ``<base_url>/s/<token>``; while the commune's province shows
    public results pages, a second, small one encodes ``<base_url>/results/<commune code>``
    (a link that would answer "not found" is never printed). The font is embedded once per
    document (subset to the glyphs used), so a province batch of hundreds of pages stays small.
    """
    if size not in LAYOUTS:
        raise ValueError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
    if not points:
        raise ValueError("no active service points to print")
    layout = LAYOUTS[size]
    texts = poster_texts()
    pdf = _new_pdf(layout)
    pdf.set_title(texts["band"].vi)
    from .results import public_settings

    public = {code: public_settings(code).public_results for code in {p.commune.province_code for p in points}}
    for point in points:
        results = results_link(base_url, point.commune_code) if public[point.commune.province_code] else None
        _draw_poster(pdf, layout, texts, point, poster_link(base_url, point.token), results)
    return bytes(pdf.output())
