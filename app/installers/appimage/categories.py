"""Menu categories of a desktop entry, as the freedesktop.org Desktop Menu Specification (1.1, appendix A) registers
them: main categories, and additional ones that go with one of their related categories.

`desktop-file-validate` checks the same table; its "hint" for an additional category without a related one is an
error here, because menus then file the app under "Other".
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MAIN_CATEGORIES = (
    "AudioVideo", "Audio", "Video", "Development", "Education", "Game", "Graphics", "Network", "Office", "Science",
    "Settings", "System", "Utility",
)
"""The registered main categories; a menu entry needs at least one (Audio and Video also need AudioVideo)."""

_EDUCATION = ("Education", "Science")
ADDITIONAL_CATEGORIES: dict[str, tuple[str, ...]] = {
    "Building": ("Development",), "Debugger": ("Development",), "IDE": ("Development",),
    "GUIDesigner": ("Development",), "Profiling": ("Development",), "RevisionControl": ("Development",),
    "Translation": ("Development",),
    "Calendar": ("Office",), "ContactManagement": ("Office",), "Database": ("Office", "Development", "AudioVideo"),
    "Dictionary": ("Office", "TextTools"), "Chart": ("Office",), "Email": ("Office", "Network"),
    "Finance": ("Office",), "FlowChart": ("Office",), "PDA": ("Office",),
    "ProjectManagement": ("Office", "Development"),
    "Presentation": ("Office",), "Spreadsheet": ("Office",), "WordProcessor": ("Office",),
    "2DGraphics": ("Graphics",), "VectorGraphics": ("Graphics", "2DGraphics"),
    "RasterGraphics": ("Graphics", "2DGraphics"),
    "3DGraphics": ("Graphics",), "Scanning": ("Graphics",), "OCR": ("Graphics", "Scanning"),
    "Photography": ("Graphics", "Office"), "Publishing": ("Graphics", "Office"), "Viewer": ("Graphics", "Office"),
    "TextTools": ("Utility",),
    "DesktopSettings": ("Settings",), "HardwareSettings": ("Settings",), "Printing": ("HardwareSettings", "Settings"),
    "PackageManager": ("Settings",),
    "Dialup": ("Network",), "InstantMessaging": ("Network",), "Chat": ("Network",), "IRCClient": ("Network",),
    "Feed": ("Network",), "FileTransfer": ("Network",), "HamRadio": ("Network", "Audio"), "News": ("Network",),
    "P2P": ("Network",), "RemoteAccess": ("Network",), "Telephony": ("Network",), "TelephonyTools": ("Utility",),
    "VideoConference": ("Network",), "WebBrowser": ("Network",), "WebDevelopment": ("Network", "Development"),
    "Midi": ("AudioVideo", "Audio"), "Mixer": ("AudioVideo", "Audio"), "Sequencer": ("AudioVideo", "Audio"),
    "Tuner": ("AudioVideo", "Audio"), "TV": ("AudioVideo", "Video"),
    "AudioVideoEditing": ("Audio", "Video", "AudioVideo"), "Player": ("Audio", "Video", "AudioVideo"),
    "Recorder": ("Audio", "Video", "AudioVideo"), "DiscBurning": ("AudioVideo",),
    "ActionGame": ("Game",), "AdventureGame": ("Game",), "ArcadeGame": ("Game",), "BoardGame": ("Game",),
    "BlocksGame": ("Game",), "CardGame": ("Game",), "KidsGame": ("Game",), "LogicGame": ("Game",),
    "RolePlaying": ("Game",), "Shooter": ("Game",), "Simulation": ("Game",), "SportsGame": ("Game",),
    "StrategyGame": ("Game",),
    "Art": _EDUCATION, "Construction": _EDUCATION, "Music": ("AudioVideo", "Education"), "Languages": _EDUCATION,
    "ArtificialIntelligence": _EDUCATION, "Astronomy": _EDUCATION, "Biology": _EDUCATION, "Chemistry": _EDUCATION,
    "ComputerScience": _EDUCATION, "DataVisualization": _EDUCATION, "Economy": _EDUCATION, "Electricity": _EDUCATION,
    "Geography": _EDUCATION, "Geology": _EDUCATION, "Geoscience": _EDUCATION, "History": _EDUCATION,
    "Humanities": _EDUCATION, "ImageProcessing": _EDUCATION, "Literature": _EDUCATION,
    "Maps": (*_EDUCATION, "Utility"), "Math": _EDUCATION, "NumericalAnalysis": (*_EDUCATION, "Math"),
    "MedicalSoftware": _EDUCATION, "Physics": _EDUCATION, "Robotics": _EDUCATION,
    "Spirituality": (*_EDUCATION, "Utility"), "Sports": _EDUCATION,
    "ParallelComputing": (*_EDUCATION, "ComputerScience"),
    "Amusement": (), "Archiving": ("Utility",), "Compression": ("Utility", "Archiving"), "Electronics": (),
    "Emulator": ("System", "Game"), "Engineering": (), "FileTools": ("Utility", "System"),
    "FileManager": ("System", "FileTools"), "TerminalEmulator": ("System",), "Filesystem": ("System",),
    "Monitor": ("System", "Network"), "Security": ("Settings", "System"), "Accessibility": ("Settings", "Utility"),
    "Calculator": ("Utility",), "Clock": ("Utility",), "TextEditor": ("Utility",), "Documentation": (),
    "Adult": (), "Core": (), "KDE": ("Qt",), "GNOME": ("GTK",), "XFCE": ("GTK",), "DDE": ("Qt",), "GTK": (), "Qt": (),
    "Motif": (), "Java": (), "ConsoleOnly": (),
}
"""Additional categories → the categories one of which must be there too (none: it goes with any main category)."""
RESERVED_CATEGORIES = ("Screensaver", "TrayIcon", "Applet", "Shell")
"""Only for entries shown in one desktop (OnlyShowIn), never an app's own menu entry."""
_CATEGORY_RE = re.compile(r"^(X-)?[A-Za-z0-9-]+$")


def normalize_categories(categories: Iterable[str]) -> list[str]:
    """Checked categories in the given order without repeats; AudioVideo added when Audio or Video needs it.

    Accepts the main and additional categories of the specification and `X-` extensions; raises ValueError (saying
    what to write instead) otherwise.
    """
    result: list[str] = []
    for category in categories:
        category = category.strip()
        if category in RESERVED_CATEGORIES:
            raise ValueError(f"'{category}' is reserved for desktop-specific entries; use a main category such as "
                             "Utility")
        known = category in MAIN_CATEGORIES or category in ADDITIONAL_CATEGORIES
        if not _CATEGORY_RE.match(category) or not (known or category.startswith("X-")):
            near = [c for c in (*MAIN_CATEGORIES, *ADDITIONAL_CATEGORIES) if c.lower() == category.lower()]
            raise ValueError(
                f"'{category}' is not a freedesktop.org menu category"
                + (f" (the spelling is {near[0]})" if near else "")
                + f"; use a main category ({', '.join(MAIN_CATEGORIES)}), an additional one such as TextEditor or "
                "WordProcessor, or an X-Name extension"
            )
        if category in ("Audio", "Video") and "AudioVideo" not in result:
            result.append("AudioVideo")
        if category not in result:
            result.append(category)
    if not any(c in MAIN_CATEGORIES for c in result):
        raise ValueError(f"at least one main category is needed: {', '.join(MAIN_CATEGORIES)}")
    for category in result:
        related = ADDITIONAL_CATEGORIES.get(category, ())
        if related and not set(related) & set(result):
            raise ValueError(f"'{category}' goes with {' or '.join(related)}: add it, e.g. "
                             f"{related[0]}; {category}")
    return result
