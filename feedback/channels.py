"""What each response channel (``Response.channel``) is called: officers' pages and the response export."""

from __future__ import annotations

from flask_babel import force_locale, lazy_gettext

from .models import CHANNELS

__all__ = ["CHANNEL_LABELS", "channel_label", "channel_names"]

#: The channels as the pages call them (the stored codes stay English, for queries and exports).
CHANNEL_LABELS = {
    "poster": lazy_gettext("Poster (QR code)"),
    "landing": lazy_gettext("Home page"),
    "paper": lazy_gettext("Paper form"),
    "api": lazy_gettext("API (app or tablet)"),
}


def channel_label(channel: str) -> str:
    """A stored channel ("poster") in the reader's language; an unknown code as it is."""
    return str(CHANNEL_LABELS.get(channel, channel))


def channel_names() -> dict[str, tuple[str, str]]:
    """Each channel's (Vietnamese, English) name, from the same catalogs as the pages (app context)."""
    names = {}
    for channel in CHANNELS:
        with force_locale("vi"):
            vi = str(CHANNEL_LABELS[channel])
        with force_locale("en"):
            en = str(CHANNEL_LABELS[channel])
        names[channel] = (vi, en)
    return names
