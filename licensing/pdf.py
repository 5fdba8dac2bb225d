"""What every PDF the service issues shares: fonts, styles, page furniture.

Agreements, invoices, credit notes and decision letters are rendered by pure
functions (`render_*_pdf(data) -> bytes`) in their feature's `documents.py`;
they build their flowables with the styles here and call `build()`, which adds a
header with the document's reference and a "Page N of M" footer.

Output is deterministic (reportlab's `invariant` mode): the same data gives the
same bytes, so a document's SHA-256 identifies its content.
"""

from __future__ import annotations

import copy
import functools
import io
import itertools
import re
import sys
import unicodedata
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast
from xml.sax.saxutils import escape

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.rl_accel import escapePDF, fp_str
from reportlab.lib.styles import ParagraphStyle, StyleSheet1
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import (
    FF_NONSYMBOLIC,
    FF_SYMBOLIC,
    SUBSETN,
    TTFont,
    TTFontFace,
    makeToUnicodeCMap,
)
from reportlab.pdfgen.canvas import Canvas
from reportlab.pdfgen.textobject import PDFTextObject, bidiShapedText
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

# split and strip: the whitespace splitting reportlab breaks lines with (not in the stubs).
from reportlab.platypus.paragraph import cleanBlockQuotedText, split, strip  # type: ignore[attr-defined]
from reportlab.platypus.paraparser import ParaFrag
from reportlab.platypus.tables import CellStyle
from reportlab.rl_config import _FUZZ, paraFontSizeHeightOffset

from licensing import printable

# DejaVu Sans, shipped in the package (licensing/fonts, with its licence): nothing
# is read from the system or downloaded, so a document draws the same anywhere.
_FONT_DIR = Path(__file__).parent / "fonts"
FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
FONT_ITALIC = "DejaVuSans-Oblique"
FONT_BOLD_ITALIC = "DejaVuSans-BoldOblique"


# Font files of subsets already built, by face and subset (the characters in the
# order a document first drew them), and each one's compressed form. reportlab
# keeps ASCII at its own codes, so every document of ASCII text, or with the same
# other characters in the same order, has the same subsets; emptied past a bound.
_SUBSETS: dict[tuple[str, tuple[int, ...]], bytes] = {}
_COMPRESSED: dict[bytes | str, bytes] = {}
_FORMATTED_WIDTHS: dict[tuple[bytes, int, tuple[Any, ...]], bytes] = {}
_SUBSETS_BOUND = 64


class _SubsetFace(TTFontFace):
    """A TrueType face that builds and compresses each distinct subset once.

    reportlab builds the subset's font file (glyphs, metrics, the name table
    and hinting) and zlib-compresses it for every document: about 0.6 ms a font,
    a third of a one-page invoice. Both are pure functions of the face and the
    subset, so a document whose subset was seen before gets the same bytes
    again (compressed by `_RememberedFlate`, the subset's objects formatted by
    `_EmbeddedFont.addObjects`).
    """

    def makeSubset(self, subset: Sequence[int]) -> bytes:
        key = (str(self.filename), tuple(subset))
        font_file = _SUBSETS.get(key)
        if font_file is None:
            if len(_SUBSETS) >= _SUBSETS_BOUND:
                _SUBSETS.clear()
                _COMPRESSED.clear()
                _FORMATTED_WIDTHS.clear()
            font_file = _SUBSETS[key] = super().makeSubset(subset)
        return font_file


class _RememberedFlate:
    """reportlab's Flate filter (`zlib.compress`, the same bytes) for font files,
    compressing each distinct font file once."""

    pdfname = "FlateDecode"

    def encode(self, content: bytes | str) -> bytes:
        compressed = _COMPRESSED.get(content)
        if compressed is None:
            compressed = _COMPRESSED[content] = pdfdoc.PDFZCompress.encode(content)
        return compressed


_REMEMBERED_FLATE = _RememberedFlate()


class _RememberedWidths(pdfdoc.PDFArray):
    """A font subset's widths (128 numbers or more, formatted one by one by
    reportlab: 0.2 ms a font), formatted once per distinct subset."""

    def format(self, document: Any, IND: bytes = b"\n ") -> bytes:
        key = (IND, rl_config.pdfMultiLine, tuple(self.sequence))  # as `_formatted_once`
        formatted = _FORMATTED_WIDTHS.get(key)
        if formatted is None:
            formatted = _FORMATTED_WIDTHS[key] = super().format(document, IND)
        return formatted


# Each font object of a subset as formatted, by its face, subset, name and the
# numbers of the objects it refers to (`_Remembered`); emptied past a bound.
_FORMATTED_OBJECTS: dict[tuple[Any, ...], bytes] = {}
_FORMATTED_OBJECTS_BOUND = 256


class _Remembered(pdfdoc.PDFObject):
    """A PDF object formatted once per process: what it holds is fixed by
    `key`, but for the numbers the document gave the objects it refers to, so
    its bytes are kept per both. `make` builds reportlab's own object, which
    formats it the first time."""

    __RefOnly__ = 1  # in the fonts' dictionary, by reference, as reportlab's fonts

    def __init__(
        self, key: tuple[Any, ...], refers_to: tuple[str, ...], make: Callable[[], Any]
    ) -> None:
        self.key = key
        self.refers_to = refers_to
        self.make = make

    def format(self, document: Any) -> bytes:
        numbers = document.idToObjectNumberAndVersion
        key = (self.key, tuple(numbers[name] for name in self.refers_to))
        return _formatted_once(key, lambda: pdfdoc.format(self.make(), document, toplevel=1))


def _cmap_stream(base: str, codes: tuple[int, ...], compressed: bool, face: Any = None) -> Any:
    """A subset's character map (reportlab's `addObjects`); in a shaped face (Thai,
    Devanagari), each glyph drawn by its private-use code mapped to the text it
    stands for (`_glyph_texts`), so that text copied from the document is text."""
    stream = pdfdoc.PDFStream()
    stream.content = makeToUnicodeCMap(base, list(codes))
    if face is not None and any(code >= _PRIVATE_USE for code in codes):
        texts = _glyph_texts(str(face.filename))
        lines = stream.content.split("\n")
        for index, code in enumerate(codes):
            if _PRIVATE_USE <= code < 0xF900:
                text = texts.get(face.charToGlyph.get(code, 0), "\ufffd")
                unicode = text.encode("utf-16-be").hex().upper()
                lines[lines.index(f"<{index:02X}> <{code:04X}>")] = f"<{index:02X}> <{unicode}>"
        stream.content = "\n".join(lines)
    if compressed:
        stream.filters = [_REMEMBERED_FLATE]
    return stream


def _font_file_stream(face: TTFontFace, codes: tuple[int, ...], compressed: bool) -> Any:
    """A subset's font file (reportlab's `TTFontFace.addSubsetObjects`)."""
    stream = pdfdoc.PDFStream()
    stream.content = face.makeSubset(list(codes))
    stream.dictionary["Length1"] = len(stream.content)
    if compressed:
        stream.filters = [_REMEMBERED_FLATE]
    return stream


def _font_descriptor(face: Any, base: str, font_file: str) -> Any:
    """A subset's font descriptor (reportlab's `TTFontFace.addSubsetObjects`)."""
    return pdfdoc.PDFDictionary(
        {
            "Type": "/FontDescriptor",
            "Ascent": face.ascent,
            "CapHeight": face.capHeight,
            "Descent": face.descent,
            "Flags": (face.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC,
            "FontBBox": pdfdoc.PDFArray(face.bbox),
            "FontName": pdfdoc.PDFName(base),
            "ItalicAngle": face.italicAngle,
            "StemV": face.stemV,
            "FontFile2": pdfdoc.PDFObjectReference(font_file),
            "MissingWidth": face.defaultWidth,
        }
    )


def _formatted_once(key: tuple[Any, ...], format_it: Callable[[], bytes]) -> bytes:
    """The bytes `format_it` gives, kept per `key` in the process's table, and per
    reportlab's `pdfMultiLine`, which lays a dictionary and its arrays out on one
    line or several (kept by the numbers alone, a document made with it on left its
    layout to the next one made with it off)."""
    key = (*key, rl_config.pdfMultiLine)
    formatted = _FORMATTED_OBJECTS.get(key)
    if formatted is None:
        if len(_FORMATTED_OBJECTS) >= _FORMATTED_OBJECTS_BOUND:
            _FORMATTED_OBJECTS.clear()
        formatted = _FORMATTED_OBJECTS[key] = format_it()
    return formatted


def _numbers(document: Any, objects: Sequence[Any]) -> tuple[Any, ...] | None:
    """The numbers the document gave these objects; None if one has none yet."""
    named = document.idToObjectNumberAndVersion
    names = [getattr(thing, "__InternalName__", None) for thing in objects]
    if not all(name in named for name in names):
        return None
    return tuple(named[name] for name in names)


# Numbers as reportlab's `fp_str` formats them into operators, by the numbers:
# its C code formats each with the C library's printf, about a microsecond a
# number, and a document writes hundreds (every paragraph's and cell's position,
# the tables' rules), most at positions the same in every document of a kind.
# Emptied past a bound. Equal numbers format alike (1 and 1.0, 0.0 and -0.0).
_FORMATTED_NUMBERS: dict[tuple[float, ...], str] = {}
_FORMATTED_NUMBERS_BOUND = 8192


def _fp(*numbers: float) -> str:
    """`fp_str(*numbers)` of numbers (not a sequence), formatted once per process."""
    formatted = _FORMATTED_NUMBERS.get(numbers)
    if formatted is None:
        if len(_FORMATTED_NUMBERS) >= _FORMATTED_NUMBERS_BOUND:
            _FORMATTED_NUMBERS.clear()
        formatted = _FORMATTED_NUMBERS[numbers] = fp_str(*numbers)
    return formatted


# How every page's content stream is compressed: zlib at this level, and not
# ASCII85-encoded. reportlab's defaults are zlib's level 6 and ASCII85 on top,
# which makes a compressed stream a quarter larger to keep it 7-bit text, of no
# use in our documents (their embedded fonts are binary streams anyway). Level 1
# takes about a third less time than level 6 for 9-10% more compressed bytes,
# which dropping ASCII85 more than repays (docs/pdfs.md, "An eighth round").
PAGE_COMPRESSION_LEVEL = 1


class _PageFlate:
    """The page streams' Flate filter, at `PAGE_COMPRESSION_LEVEL`."""

    pdfname = "FlateDecode"

    def encode(self, content: bytes | str) -> bytes:
        if isinstance(content, str):
            content = content.encode("utf8")  # as reportlab's filter encodes text
        return zlib.compress(content, PAGE_COMPRESSION_LEVEL)


_PAGE_FLATE = _PageFlate()


# reportlab's formatted dictionary of a page stream (its filter and length), by
# its multi-line setting: the bytes before and after the length.
_PAGE_STREAM_DICTIONARY: dict[Any, tuple[bytes, bytes]] = {}
_LENGTH_MARK = 987654321


class _PageStream(pdfdoc.PDFStream):
    """A page's content stream, formatted as reportlab's `PDFStream.format`
    formats it (the dictionary of its filter and length, then the compressed
    content) from the dictionary's bytes kept once per process, instead of
    building and formatting the dictionary, its array and name for every page."""

    def format(self, document: Any) -> bytes:
        if (
            self.filters != [_PAGE_FLATE]
            or self.dictionary.dict
            or not isinstance(document.encrypt, pdfdoc.NoEncryption)
        ):
            formatted: bytes = super().format(document)
            return formatted
        setting = (rl_config.pdfMultiLine,)
        around = _PAGE_STREAM_DICTIONARY.get(setting)
        if around is None:
            dictionary = pdfdoc.PDFDictionary(
                {"Filter": pdfdoc.PDFArray([pdfdoc.PDFName(_PAGE_FLATE.pdfname)])}
            )
            dictionary["Length"] = _LENGTH_MARK
            before, _, after = dictionary.format(document).partition(b"%d" % _LENGTH_MARK)
            around = _PAGE_STREAM_DICTIONARY[setting] = (before, after)
        content = _PAGE_FLATE.encode(self.content)
        return b"%s%d%s\nstream\n%sendstream\n" % (around[0], len(content), around[1], content)


def _page_contents(stream: str) -> Any:
    """A page's content stream, as reportlab's `PDFPage` makes it but for its filter."""
    contents: Any = _PageStream()
    contents.filters = [_PAGE_FLATE]
    contents.content = stream
    contents.__Comment__ = "page stream"
    return contents


# reportlab's page attributes that a page of ours leaves unset until it is
# formatted (its content stream is set by `_NumberedCanvas.save`, numbered as any).
_UNSET_PAGE_ATTRIBUTES = tuple(
    name
    for name in pdfdoc.PDFPage.__NoDefault__
    if name not in ("Rotate", "Trans", "Annots", "Contents")
)


class _Page(pdfdoc.PDFPage):
    """A page dictionary of ours, formatted once per process.

    reportlab builds and formats the same dictionary for every page (the media
    box, the resources, an empty transition), all but the numbers of the page's
    content stream and of the page tree; so it is kept per page size, rotation,
    compression and those numbers. The content stream is made and numbered as
    reportlab makes and numbers it. A page with anything else (annotations,
    an extended graphics state, colour spaces, forms, boxes) is reportlab's.
    """

    def format(self, document: Any) -> bytes:
        if not self._plain():
            formatted: bytes = super().format(document)
            return formatted
        document.Reference(document.Pages)  # numbered in reportlab's order: the tree first
        contents: Any = self.Contents  # compressed ones set by `_NumberedCanvas.save`
        if not contents:
            contents = self.Contents = pdfdoc.PDFStream()
            contents.content = self.stream
            contents.__Comment__ = "page stream"
        document.Reference(contents)
        numbers = _numbers(document, (document.Pages, contents, document.idToObject["BasicFonts"]))
        page: Any = self
        key = ("page", page.pagewidth, page.pageheight, page.Rotate, bool(page.hasImages))
        return _formatted_once((*key, numbers), lambda: super(_Page, self).format(document))

    def _plain(self) -> bool:
        page: Any = self
        transition = page.Trans
        return bool(
            page.stream
            and not page.Override_default_compilation
            and not (page.Annots or page.ExtGState or page._colorsUsed or page._shadingUsed)
            and page.XObjects is None
            and type(transition) is pdfdoc.PDFDictionary
            and not transition.dict
            and all(getattr(page, name) is None for name in _UNSET_PAGE_ATTRIBUTES)
        )


class _Catalog(pdfdoc.PDFCatalog):
    """The document's catalogue, formatted once per process per number of its
    page tree when it holds nothing but the tree (no outline, page mode or labels)."""

    def format(self, document: Any) -> bytes:
        fields: Any = self.__dict__
        numbers = _numbers(document, (fields.get("Pages"),))
        if (
            numbers is None
            or fields.get("Outlines") is not None
            or fields.keys() - {"Pages", "Outlines", "__InternalName__"}
        ):
            formatted: bytes = super().format(document)
            return formatted
        return _formatted_once(("catalog", numbers), lambda: super(_Catalog, self).format(document))


class _PageTree(pdfdoc.PDFPages):
    """The page tree, formatted once per process per the numbers of its pages."""

    def format(self, document: Any) -> bytes:
        numbers = _numbers(document, self.pages)
        if numbers is None or self.__dict__.keys() - {"pages", "__InternalName__"}:
            formatted: bytes = super().format(document)
            return formatted
        return _formatted_once(("pages", numbers), lambda: super(_PageTree, self).format(document))


class _FontDictionary(pdfdoc.PDFDictionary):
    """The dictionary of the document's fonts, formatted once per process per
    its fonts' names and numbers (each written as a reference)."""

    def format(self, document: Any, IND: bytes = b"\n ") -> bytes:
        fonts = list(self.dict.values())
        numbers = _numbers(document, fonts)
        if numbers is None or not all(getattr(font, "__RefOnly__", 0) for font in fonts):
            formatted: bytes = super().format(document, IND)
            return formatted
        key = ("fonts", IND, tuple(self.dict), numbers)
        return _formatted_once(key, lambda: super(_FontDictionary, self).format(document, IND))


# The classes of reportlab's document objects ours format once (`_NumberedCanvas.save`).
_FORMATTED_ONCE = {
    pdfdoc.PDFPage: _Page,
    pdfdoc.PDFCatalog: _Catalog,
    pdfdoc.PDFPages: _PageTree,
    pdfdoc.PDFDictionary: _FontDictionary,
}


class _Document(pdfdoc.PDFDocument):
    """reportlab's document, its file put together as `PDFDocument.format` puts
    it, but with each object's header, the cross-reference table and the offset
    after it written as ASCII bytes. reportlab encodes each of those strings with
    its PDFDocEncoding codec, a charmap looked up character by character (about
    300 instructions a character: the cross-reference table alone, 20 bytes an
    object, cost 2% of an agreement); for digits, spaces, letters and newlines
    that codec gives the ASCII bytes (tested). An encrypted or signed document,
    or one with comments (not invariant), is reportlab's."""

    def format(self) -> bytes:
        if (
            not isinstance(self.encrypt, pdfdoc.NoEncryption)
            or getattr(self, "_digiSigs", None)
            or (not rl_config.invariant and rl_config.pdfComments)
        ):
            formatted: bytes = super().format()
            return formatted
        document: Any = self  # reportlab's members, which its stubs leave out
        document.encrypt.prepare(document)
        catalog, info = document.Catalog, document.info
        if type(info) is pdfdoc.PDFInfo:
            info.__class__ = _Info
        document.Reference(catalog)
        document.Reference(info)
        number_to_id = document.numberToId
        id_to_number = document.idToObjectNumberAndVersion
        id_to_object = document.idToObject
        id_to_offset = document.idToOffset
        # `__accum__` as reportlab sets it (objects may ask where they are).
        collector = pdfdoc.PDFFile(document._pdfVersion)
        self.__dict__["__accum__"] = collector
        parts = collector.strings
        offset = collector.offset
        ids = []
        counter = 1
        while counter in number_to_id:  # objects may be numbered while formatting
            oid = number_to_id[counter]
            number, version = id_to_number[oid]
            content = pdfdoc.format(id_to_object[oid], self, toplevel=1)
            formatted = b"%s %s obj\n%s%sendobj\n" % (
                str(number).encode("ascii"),
                str(version).encode("ascii"),
                content,
                b"" if content.endswith(b"\n") else b"\n",
            )
            parts.append(formatted)
            id_to_offset[oid] = offset
            offset += len(formatted)
            ids.append(oid)
            counter += 1
        del self.__dict__["__accum__"]
        if counter - 1 != len(number_to_id):
            raise ValueError(f"counter {counter} doesn't match number to id dictionary")
        entries = [f"xref\n0 {len(ids) + 1}\n0000000000 65535 f "]
        entries.extend(f"{id_to_offset[oid]:010d} {id_to_number[oid][1]:05d} n " for oid in ids)
        entries.append("")
        parts.append("\n".join(entries).encode("ascii"))
        # reportlab's `PDFTrailer`: its dictionary's keys sorted, one a line.
        parts.append(
            b"trailer\n<<\n/ID %s\n/Info %s\n/Root %s\n/Size %d\n>>\nstartxref\n%d\n%%%%EOF\n"
            % (
                self.ID(),
                _reference(document, document.Reference(info)),
                _reference(document, document.Reference(catalog)),
                len(number_to_id) + 1,
                offset,
            )
        )
        return b"".join(parts)


def _reference(document: Any, reference: Any) -> bytes:
    """reportlab's `PDFObjectReference.format`, in ASCII bytes."""
    return b"%d %d R" % document.idToObjectNumberAndVersion[reference.name]


def _pdf_string(value: Any, document: Any) -> bytes:
    """reportlab's `PDFString(value).format(document)`: for printable ASCII text,
    which PDFDocEncoding keeps as it is, its escaped bytes in parentheses;
    anything else (other characters, bytes) reportlab's."""
    if isinstance(value, str) and value.isascii() and value.isprintable():
        return b"(%s)" % escapePDF(value.encode("ascii")).encode("ascii")
    formatted: bytes = pdfdoc.PDFString(value).format(document)
    return formatted


class _Info(pdfdoc.PDFInfo):
    """reportlab's information dictionary, formatted as `PDFInfo.format` formats it
    (a `PDFDictionary` of its strings, date and name, the keys sorted, six a
    line), its keys and printable ASCII strings written as ASCII bytes instead of
    through the PDFDocEncoding codec (`_Document`)."""

    def format(self, document: Any) -> bytes:
        timestamp = document._timeStamp
        fields: Any = self  # reportlab's stubs leave out its date formatter
        formatter = fields._dateFormatter or (
            lambda yyyy, mm, dd, hh, m, s: (
                f"D:{yyyy:04d}{mm:02d}{dd:02d}{hh:02d}{m:02d}{s:02d}"
                f"{timestamp.dhh:+03d}'{timestamp.dmm:02d}'"
            )
        )
        date = _pdf_string(formatter(*timestamp.YMDhms), document)
        entries = [
            b"/Author " + _pdf_string(self.author, document),
            b"/CreationDate " + date,
            b"/Creator " + _pdf_string(self.creator, document),
            b"/Keywords " + _pdf_string(self.keywords, document),
            b"/ModDate " + date,
            b"/Producer " + _pdf_string(self.producer, document),
            b"/Subject " + _pdf_string(self.subject, document),
            b"/Title " + _pdf_string(self.title, document),
            b"/Trapped " + pdfdoc.pdfdocEnc(pdfdoc.PDFName(self.trapped)),
        ]
        if rl_config.pdfMultiLine:
            return b"<<\n" + b"\n ".join(entries) + b"\n>>"
        return b"<<\n" + b" ".join(entries[:6]) + b" \n  " + b" ".join(entries[6:]) + b"\n>>"


class _EmbeddedFont(TTFont):
    """A TrueType font embedded as a subset, mapping text already seen in a
    document in one C call.

    reportlab maps every character of every line drawn to its code in the
    document's subset in a Python loop (a tenth of an agreement's time). Once
    the document has given each character of a text a code in the first subset,
    `str.translate` gives the same bytes; any other text (a new character, one
    the font lacks, a second subset) takes reportlab's loop, which assigns the
    codes as before.
    """

    def __init__(self, name: str, filename: str) -> None:
        super().__init__(name, filename)
        self.face.__class__ = _SubsetFace  # the face reportlab parsed, with the cache
        # Thai and Devanagari runs, shaped (`_shaped`), draw some glyphs by private-use codes.
        self.shaped = name in _SHAPED_FACES or name in _SHAPED_FACES.values()

    def addObjects(self, doc: Any) -> None:
        """reportlab's `TTFont.addObjects`: for each subset the document drew,
        its character map, font file, font descriptor and font dictionary,
        registered under reportlab's names in reportlab's order (so they get
        the same numbers), each formatted once per process (`_Remembered`)."""
        state: Any = self.state.get(doc)
        if state is None or not isinstance(doc.encrypt, pdfdoc.NoEncryption):
            super().addObjects(doc)  # not a document of ours: reportlab's own
            return
        state.frozen = 1
        face: Any = self.face
        compressed = bool(doc.compression)
        fonts = doc.idToObject["BasicFonts"].dict
        for n, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(n, doc)[1:]
            base = b"".join((SUBSETN(n), b"+", face.name, face.subfontNameX)).decode("pdfdoc")
            codes = tuple(subset)
            cmap, descriptor = f"toUnicodeCMap:{base}", f"fontDescriptor:{base}"
            font_file = f"fontFile:{face.filename}({base})"
            objects: tuple[tuple[str, tuple[str, ...], Callable[[], Any]], ...] = (
                (
                    cmap,
                    (),
                    functools.partial(
                        _cmap_stream, base, codes, compressed, face if self.shaped else None
                    ),
                ),
                (font_file, (), functools.partial(_font_file_stream, face, codes, compressed)),
                (
                    descriptor,
                    (font_file,),
                    functools.partial(_font_descriptor, face, base, font_file),
                ),
                (
                    internal_name,
                    (descriptor, cmap),
                    functools.partial(self._font_dictionary, internal_name, base, codes),
                ),
            )
            for name, refers_to, make in objects:
                key = (face.filename, codes, compressed, name)
                doc.Reference(_Remembered(key, refers_to, make), name)
            fonts[internal_name] = doc.idToObject[internal_name]
        del self.state[doc]

    def _font_dictionary(self, name: str, base: str, codes: tuple[int, ...]) -> Any:
        """The subset's font dictionary, as reportlab's `addObjects` makes it."""
        font: Any = pdfdoc.PDFTrueTypeFont()
        font.Name = name
        font.BaseFont = base
        font.FirstChar = 0
        font.LastChar = len(codes) - 1
        font.Widths = _RememberedWidths(list(map(self.face.getCharWidth, codes)))
        font.ToUnicode = pdfdoc.PDFObjectReference(f"toUnicodeCMap:{base}")
        font.FontDescriptor = pdfdoc.PDFObjectReference(f"fontDescriptor:{base}")
        return font

    def splitString(
        self, text: str | bytes, doc: Any, encoding: str = "utf-8"
    ) -> list[tuple[int, bytes]]:
        state: Any = self.state.get(doc)
        known: frozenset[str] | None = getattr(state, "known_characters", None)
        if known is not None and isinstance(text, str) and text and known.issuperset(text):
            return [(0, text.translate(state.first_subset_codes).encode("latin-1"))]
        chunks: list[tuple[int, bytes]] = super().splitString(text, doc, encoding)
        _remember_codes(self.state[doc])
        return chunks


def _remember_codes(state: Any) -> None:
    """Keep beside reportlab's state the codes of the first subset, as a
    translation table (a no-break space is drawn as the space, as reportlab does).

    reportlab only adds to its assignments (a character keeps its code for the
    document's life), so only those made since the last call are read."""
    assignments: dict[int, int] = state.assignments
    codes: dict[int, int] | None = getattr(state, "first_subset_codes", None)
    seen: int = getattr(state, "codes_seen", 0)
    if codes is None or seen > len(assignments):
        codes, seen = {}, 0
    for char, code in itertools.islice(assignments.items(), seen, None):
        if code < 256:
            codes[char] = code
    if 32 in codes:
        codes[0xA0] = codes[32]
    state.codes_seen = len(assignments)
    state.first_subset_codes = codes
    state.known_characters = frozenset(map(chr, codes))


def _first_subset_name(canvas: Any, font: Any) -> str:
    """`font.getSubsetInternalName(0, document)` ("/F2+0"), kept by the canvas
    (one a document) once reportlab has named it: asked for every paragraph,
    table cell and line of furniture drawn, and the same for the document's life."""
    names: dict[str, str] | None = getattr(canvas, "_first_subset_names", None)
    if names is None:
        return font.getSubsetInternalName(0, canvas._doc)  # type: ignore[no-any-return]
    name = names.get(font.fontName)
    if name is None:
        name = names[font.fontName] = font.getSubsetInternalName(0, canvas._doc)
    return name


def register_fonts(*, oblique: bool = False) -> None:
    """DejaVu Sans, embedded: Bitstream Vera's successor, with Vera's Latin-1
    glyphs, widths and vertical metrics (so Latin-1 text is laid out and drawn
    as with Vera), and glyphs for Latin Extended, Greek and Cyrillic, where
    Vera drew the names of licensees such as Dvořák, Erdős or Łódź with empty
    boxes (docs/pdfs.md).

    Registered once per process, by the first document (`para`, `markup`, a
    table cell or `build`), not on import, and the two oblique faces only for
    markup that asks for them (no document does today): parsed, each face holds
    about 3 MB, which processes that never draw a document (exports, the
    scheduled jobs) or never draw italics need not carry. Each face is parsed
    here, the subsets per document."""
    if _FACES_REGISTERED and not oblique:  # asked for every paragraph and cell
        return
    wanted = _FACES + (_OBLIQUE_FACES if oblique else ())
    if _registered.issuperset(wanted):
        return
    for name in wanted:
        if name not in _registered:
            font = _EmbeddedFont(name, str(_FONT_DIR / f"{name}.ttf"))
            # The marks of an isolated name (`isolated`), which the font has no
            # glyph for, measure nothing: they are taken out before a line is drawn.
            font.face.charWidths.update(dict.fromkeys(range(0x2066, 0x206A), 0))
            pdfmetrics.registerFont(font)
            _registered.add(name)
    # The family maps <b> and <i> to face names; an oblique face is registered
    # above before any markup that draws with it is built.
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=FONT_BOLD, italic=FONT_ITALIC, boldItalic=FONT_BOLD_ITALIC
    )
    _FACES_REGISTERED.append(True)


_FACES = (FONT, FONT_BOLD)
_OBLIQUE_FACES = (FONT_ITALIC, FONT_BOLD_ITALIC)
_registered: set[str] = set()
# Not empty once the regular and bold faces and the family are registered.
_FACES_REGISTERED: list[bool] = []
_OBLIQUE_MARKUP = re.compile(r"<\s*(i|em)\b", re.IGNORECASE)

# Chinese, Japanese and Korean: DejaVu Sans has no glyph in any of their blocks,
# so runs of them are drawn in the standard Adobe CID fonts reportlab knows
# (docs/pdfs.md). They are not embedded: a PDF viewer supplies them, so the
# package ships no large font file and nothing is downloaded.
CJK_JAPANESE = "HeiseiKakuGo-W5"
CJK_KOREAN = "HYGothic-Medium"
CJK_SIMPLIFIED_CHINESE = "STSong-Light"
# Each font's encoding (a predefined CMap from UCS-2, the text reportlab writes) and
# the character collection (Adobe, its ordering, its supplement) that CMap names
# (Adobe's CMaps, poppler-data 0.4.12): what the PDF says, so a viewer draws the CIDs
# the encoding gives with a font of that collection that holds them. reportlab labels
# STSong-Light supplement 0 (GB 2312's 7,717 glyphs) and HeiseiKakuGo-W5 supplement 2,
# where `UniGB-UCS2-H` and `UniJIS-UCS2-H` give CIDs up to supplement 4 (fonts58:
# docs/pdfs.md). There is no Traditional Chinese font: reportlab's `MSung-Light` is
# labelled Adobe-CNS1 but written with the GB encoding, so viewers drew other
# characters or none.
_CID_SYSTEMS = {
    CJK_JAPANESE: ("UniJIS-UCS2-H", "Japan1", 4),
    CJK_KOREAN: ("UniKS-UCS2-H", "Korea1", 1),
    CJK_SIMPLIFIED_CHINESE: ("UniGB-UCS2-H", "GB1", 4),
}

# The blocks of the CJK scripts, their punctuation and full- and half-width forms
# (the Basic Multilingual Plane only: the fonts' UCS-2 encodings end there). A
# text with none of these, in particular any ASCII text, takes no other step.
_CJK = re.compile(f"[{printable.CJK_BLOCKS}]")
# Thai, and the scripts of India and Sri Lanka (Devanagari; since round 55 Bengali,
# Gurmukhi, Gujarati, Oriya, Tamil, Telugu, Kannada, Malayalam and Sinhala): DejaVu
# Sans has no glyph for them, so their runs are drawn in the Noto Sans face of their
# script, embedded as DejaVu Sans is (licensing/fonts, SIL Open Font License:
# LICENSE-Noto), each run shaped by HarfBuzz (`_shaped`). The blocks are
# `licensing.printable.SHAPED_SCRIPTS`'s, which the forms check text against.
THAI, THAI_BOLD = "NotoSansThai", "NotoSansThai-Bold"
DEVANAGARI, DEVANAGARI_BOLD = "NotoSansDevanagari", "NotoSansDevanagari-Bold"
# Each shaped face and its bold: `NotoSans<Script>` (the file `-Regular.ttf`) and
# `NotoSans<Script>-Bold`.
_SHAPED_FACES = {face: f"{face}-Bold" for face, _ in printable.SHAPED_SCRIPTS}
_REGULAR_OF = {bold: face for face, bold in _SHAPED_FACES.items()}
# Every character another font draws: CJK, Thai, the scripts of India and Sri Lanka.
_OTHER = re.compile(_CJK.pattern[:-1] + printable.SHAPED_BLOCKS + "]")
# A run of them, with the zero-width joiner and non-joiner a shaped script writes
# inside its words (Sinhala's ශ්‍රී, Malayalam's chillu forms): shaped with the run.
_CJK_RUN = re.compile(_OTHER.pattern[:-1] + "\u200c\u200d]+")
_JOINERS = "\u200c\u200d"
# The kana that say a text or a run of Han is Japanese (kana60): the kana but the middle
# dot ・ (U+30FB, half-width U+FF65), which Chinese writes between names too.
_KANA_LETTER = re.compile("[\u3040-\u30fa\u30fc-\u30ff\u31f0-\u31ff\uff66-\uff9f]")
_BOPOMOFO = re.compile("[\u3100-\u312f\u31a0-\u31bf]")
# A run of Han ideographs (with the iteration marks U+3005-3007 written inside
# Japanese and Chinese names): its font is chosen as one (`_run_fonts`).
_HAN_RUN = re.compile(f"[{printable.HAN_BLOCKS}\u3005-\u3007]+")
_HANGUL = re.compile(f"[{printable.HANGUL_BLOCKS}]")
_HAN = re.compile(f"[{printable.HAN_BLOCKS}]")
_TAGS = re.compile(r"(<[^>]*>)")
_cid_registered: set[str] = set()


def has_cjk(value: str) -> bool:
    """Whether `value` holds a character of a CJK block (one cheap check)."""
    return not value.isascii() and _CJK.search(value) is not None


def has_other_script(value: str) -> bool:
    """Whether `value` holds a character drawn in a font of its own: CJK (the CID
    fonts), Thai or Devanagari (Noto Sans). One cheap check."""
    return not value.isascii() and _OTHER.search(value) is not None


def _han_font(value: str) -> str:
    """The text's CID font for Han characters (and CJK punctuation) in `value`: the
    script of the text tells the language. A kana letter anywhere: Japanese; else
    hangul: Korean; else Chinese, Simplified or Traditional (bopomofo too, since
    fonts58), in the font whose encoding (UniGB-UCS2-H, GB 18030) maps every unified
    ideograph, traditional and Japanese forms too, where the Japanese and Korean
    ones map 7,900 and 4,600 of the 20,900. Each run of Han is then drawn in the font
    its own neighbours say, this one where they say nothing (`_run_fonts`, kana60)."""
    if _KANA_LETTER.search(value):
        return CJK_JAPANESE
    if _HANGUL.search(value):
        return CJK_KOREAN
    return CJK_SIMPLIFIED_CHINESE


# Whether each CID font's encoding maps a Han ideograph (`licensing.han_encoded`),
# filled by the first document that draws one.
_ENCODES_HAN: dict[str, Callable[[str], bool]] = {}
# Whether each CID font's encoding maps a sign of the CJK blocks, neither Han nor
# hangul (`licensing.cjk_signs`: punctuation, kana, full- and half-width forms...),
# filled by the first document that draws one.
_ENCODES_SIGN: dict[str, frozenset[str]] = {}
# Where the font of an ideograph's text does not map it, the first of these that does:
# the Chinese encoding maps 27,500 of the 27,785 any of them maps, the Korean the
# compatibility ideographs of Korean readings, the Japanese 20 more. Signs the same way
# (pdffonts59): 〜 and the half-width ｡｢｣､ only the Japanese maps, ￦ only the Korean.
_HAN_FALLBACKS = (CJK_SIMPLIFIED_CHINESE, CJK_KOREAN, CJK_JAPANESE)


def _encodes_han(font: str, character: str) -> bool:
    """Whether the encoding of the CID font `font` maps the ideograph `character`."""
    if not _ENCODES_HAN:
        from licensing import han_encoded

        def chinese(character: str) -> bool:
            code = ord(character)
            return any(first <= code <= last for first, last in han_encoded.CHINESE)

        _ENCODES_HAN.update(
            {
                CJK_KOREAN: frozenset(han_encoded.KOREAN).__contains__,
                CJK_JAPANESE: frozenset(han_encoded.JAPANESE).__contains__,
                CJK_SIMPLIFIED_CHINESE: chinese,
            }
        )
    return _ENCODES_HAN[font](character)


def _encodes_sign(font: str, character: str) -> bool:
    """Whether the encoding of the CID font `font` maps `character`, a CJK sign."""
    if not _ENCODES_SIGN:
        from licensing import cjk_signs

        _ENCODES_SIGN.update(
            {
                font: frozenset(
                    chr(code) for first, last in ranges for code in range(first, last + 1)
                )
                for font, ranges in (
                    (CJK_SIMPLIFIED_CHINESE, cjk_signs.CHINESE),
                    (CJK_JAPANESE, cjk_signs.JAPANESE),
                    (CJK_KOREAN, cjk_signs.KOREAN),
                )
            }
        )
    return character in _ENCODES_SIGN[font]


def _han_face(character: str, han: str) -> str:
    """The CID font to draw the Han ideograph `character` in, in a text whose Han font
    is `han` (round 57): `han` when its encoding maps it, else the first of
    `_HAN_FALLBACKS` whose does (a rare Hanja in a Korean name: the Chinese font), else
    `han` (a character no encoding maps, which the forms refuse: `printable`)."""
    if _encodes_han(han, character):
        return han
    return next((font for font in _HAN_FALLBACKS if _encodes_han(font, character)), han)


def _sign_face(character: str, font: str) -> str:
    """The CID font to draw the CJK sign `character` in (punctuation, a kana, a full- or
    half-width form), whose own font is `font` (kana: the Japanese; others: the text's Han
    font): `font` when its encoding maps it, else the first of `_HAN_FALLBACKS` whose does
    (〜 in a Chinese name: the Japanese font, pdffonts59), else `font` (a sign no encoding
    maps, which the forms refuse: `printable.SIGNS_ENCODED`)."""
    if _encodes_sign(font, character):
        return font
    return next((face for face in _HAN_FALLBACKS if _encodes_sign(face, character)), font)


def _run_fonts(stretch: str, han: str) -> list[str] | None:
    """The Han font of each character of `stretch` (CJK and the other scripts' letters
    with nothing else between them) in a text whose own Han font is `han`
    (`_han_font`), chosen per run of Han (`_HAN_RUN`) rather than for the whole text
    (kana60: a Chinese organization's name beside a Japanese product's drew its
    ideographs in Japanese forms). A run touching a kana letter is Japanese
    (株式会社テスト); one touching hangul, Korean; one touching bopomofo, Chinese; in
    a Japanese text, a run holding an ideograph the Japanese encoding does not map (a
    Simplified Chinese form: 北京测试) is Chinese; any other run is `han`, the text's.
    A sign between runs (punctuation, brackets, the middle dot) takes the font of the
    run before it, else of the run after it. None when every run is `han` (one check
    for a stretch in a Chinese or Korean text with no kana, hangul or bopomofo)."""
    if han != CJK_JAPANESE and not (
        _KANA_LETTER.search(stretch) or _HANGUL.search(stretch) or _BOPOMOFO.search(stretch)
    ):
        return None
    runs = list(_HAN_RUN.finditer(stretch))
    if not runs:
        return None
    fonts: list[str | None] = [None] * len(stretch)
    for found in runs:
        start, end = found.span()
        touching = stretch[max(start - 1, 0) : start] + stretch[end : end + 1]
        if _KANA_LETTER.search(touching):
            font = CJK_JAPANESE
        elif _HANGUL.search(touching):
            font = CJK_KOREAN
        elif _BOPOMOFO.search(touching) or (
            han == CJK_JAPANESE
            and any(
                _HAN.match(character) and not _encodes_han(CJK_JAPANESE, character)
                for character in found[0]
            )
        ):
            font = CJK_SIMPLIFIED_CHINESE
        else:
            font = han
        fonts[start:end] = [font] * (end - start)
    before = runs[0].start()  # the signs before the first run: its font
    fonts[:before] = [fonts[before]] * before
    for index in range(before, len(fonts)):
        fonts[index] = fonts[index] or fonts[index - 1]
    return cast(list[str], fonts)


def font_runs(value: str, han: str | None = None) -> list[tuple[str | None, str]]:
    """`value` split into runs, each with the CID font to draw it in, or None
    for the text's own font (DejaVu Sans, which has a glyph for it, or which
    no font here has). Kana are drawn in the Japanese font, hangul in the
    Korean one, other CJK characters in their run's font (`_run_fonts`: the
    text's, `han`, by default `_han_font(value)`, unless the run's neighbours say
    otherwise), but a Han ideograph that font's encoding does not map in a font
    whose does (`_han_face`), and a sign (punctuation, a kana, a full- or half-width
    form) its own font's encoding does not map the same way (`_sign_face`,
    pdffonts59). Registers the CID fonts used, so only a document that draws
    CJK pays."""
    if not has_other_script(value):
        return [(None, value)]
    han = han or _han_font(value)
    register_fonts()
    # The regular face's character map: every face has the same blocks.
    dejavu = cast(TTFont, pdfmetrics.getFont(FONT)).face.charToGlyph

    def font_of(character: str, han: str) -> str | None:
        shaped = printable.shaped_face(character)
        if shaped is not None:
            return shaped
        if ord(character) in dejavu:
            return None
        if _HANGUL.match(character):
            return CJK_KOREAN
        if _HAN.match(character):
            return _han_face(character, han)
        # A kana letter's own font is the Japanese; the middle dot's its run's (kana60).
        return _sign_face(character, CJK_JAPANESE if _KANA_LETTER.match(character) else han)

    # Only the CJK characters are looked at one by one: the rest of a long
    # paragraph is one run found by the regular expression.
    pieces: list[tuple[str | None, str]] = []
    end = 0
    for found in _CJK_RUN.finditer(value):
        pieces.append((None, value[end : found.start()]))
        fonts: list[str | None] = []
        hans = _run_fonts(found[0], han)
        for index, character in enumerate(found[0]):  # a joiner: the font before it
            if character in _JOINERS:
                fonts.append(fonts[-1] if fonts else None)
            else:
                fonts.append(font_of(character, han if hans is None else hans[index]))
        pieces += [
            (font, "".join(character for _, character in run))
            for font, run in itertools.groupby(zip(fonts, found[0], strict=True), lambda f: f[0])
        ]
        end = found.end()
    pieces.append((None, value[end:]))
    runs = [
        (font, "".join(piece for _, piece in same))
        for font, same in itertools.groupby((p for p in pieces if p[1]), key=lambda p: p[0])
    ]
    for font, _ in runs:
        if font in _SHAPED_FACES:
            _register_shaped_font(font)
        elif font is not None:
            _register_cid_font(font)
    return [(font, _shaped(run, font) if font in _SHAPED_FACES else run) for font, run in runs]


_shaping: dict[str, Any] = {}  # each shaped face's HarfBuzz font, and the bold face's


def _register_shaped_font(name: str) -> None:
    """Register a Noto Sans face and its bold (the family maps <b> to it), with
    HarfBuzz's font of each, once per process: only documents that draw the script."""
    if name in _shaping:
        return
    import uharfbuzz  # only documents that draw Thai or Devanagari

    bold = _SHAPED_FACES[name]
    for face in (name, bold):
        path = str(_FONT_DIR / f"{face}-Regular.ttf" if face == name else _FONT_DIR / f"{face}.ttf")
        pdfmetrics.registerFont(_EmbeddedFont(face, path))
        _shaping[face] = uharfbuzz.Font(uharfbuzz.Face(uharfbuzz.Blob.from_file_path(path)))
    pdfmetrics.registerFontFamily(name, normal=name, bold=bold, italic=name, boldItalic=bold)


# The glyphs a shaped run draws that no character maps to (a conjunct, a half form,
# a vowel sign's variant) are given private-use codes, the same for a glyph in every
# document: U+E000 plus its number in the regular face; the bold face maps each to
# its glyph of the same name.
_PRIVATE_USE = 0xE000


def _shaped(run: str, font: str) -> str:
    """A run of Thai or Devanagari as HarfBuzz shapes it in `font`: its glyphs in
    the order drawn (a vowel sign before its consonant, conjuncts as one glyph),
    each as the character that maps to it, or its private-use code. Positioning
    beyond each glyph's own advance (a mark's small offsets) is left out."""
    import uharfbuzz

    hb_font = _shaping[font]
    buffer = uharfbuzz.Buffer()
    buffer.add_str(run)
    buffer.guess_segment_properties()
    uharfbuzz.shape(hb_font, buffer, {})
    face: Any = cast(TTFont, pdfmetrics.getFont(font)).face
    shaped: list[str] = []
    for info in buffer.glyph_infos:
        glyph = info.codepoint
        characters = face.glyphToChar.get(glyph)
        if characters and min(characters) < _PRIVATE_USE:
            shaped.append(chr(min(characters)))
            continue
        code = _PRIVATE_USE + glyph
        if code not in face.charToGlyph:
            name = hb_font.glyph_to_string(glyph)
            for each in (font, _SHAPED_FACES[font]):
                each_face: Any = cast(TTFont, pdfmetrics.getFont(each)).face
                each_glyph = _shaping[each].get_glyph_from_name(name) or 0
                each_face.charToGlyph[code] = each_glyph
                each_face.charWidths[code] = each_face._pdfScale(each_face.hmetrics[each_glyph][0])
        shaped.append(chr(code))
    drawn = "".join(shaped)
    _remember_typed(font, run, drawn)
    return drawn


# The words of shaped runs whose glyphs copy out of a document as other text than
# typed (round 56), by face and the word as drawn (`_shaped`'s characters): the text
# typed, which the document gives as the word's ActualText (`_TextObject`). Emptied
# past a bound, as a process may see any number of names.
_TYPED: dict[tuple[str, str], str] = {}
_TYPED_BOUND = 65536


def _remember_typed(font: str, run: str, drawn: str) -> None:
    """Keep each word of `drawn` whose copied text (each glyph's ToUnicode text, in
    the order drawn: a vowel sign i before its consonant, Bengali's প্র as "পর্") is
    not the word typed, with the word typed. A word is what lies between spaces,
    where a document's lines break; HarfBuzz draws each space as one."""
    typed_words, drawn_words = run.split(" "), drawn.split(" ")
    if len(typed_words) != len(drawn_words):
        return  # not word for word: copied as the glyphs' text, as before
    texts = _glyph_texts(str(cast(TTFont, pdfmetrics.getFont(font)).face.filename))
    char_to_glyph = cast(Any, pdfmetrics.getFont(font)).face.charToGlyph
    for typed, word in zip(typed_words, drawn_words, strict=True):
        copied = "".join(
            texts.get(char_to_glyph.get(ord(character), 0), "\ufffd")
            if _PRIVATE_USE <= ord(character) < 0xF900
            else character
            for character in word
        )
        if copied != typed:
            if len(_TYPED) >= _TYPED_BOUND:
                _TYPED.clear()
            _TYPED[font, word] = typed


def _actual_text(font: str, text: str) -> list[tuple[str, str | None]]:
    """`text` drawn in shaped face `font` (or its bold), in pieces each with the text
    typed that a copy of it must give (`_TYPED`), or None for a piece whose glyphs copy
    as typed. Empty when no piece needs one."""
    regular = _REGULAR_OF.get(font, font)
    words = text.split(" ")
    if not any((regular, word) in _TYPED for word in words):
        return []
    pieces: list[tuple[str, str | None]] = []
    plain: list[str] = []
    for index, word in enumerate(words):
        typed = _TYPED.get((regular, word))
        space = " " if index < len(words) - 1 else ""
        if typed is None:
            plain.append(word + space)
            continue
        if plain:
            pieces.append(("".join(plain), None))
            plain = []
        pieces.append((word, typed))
        plain.append(space)
    if "".join(plain):
        pieces.append(("".join(plain), None))
    return pieces


@functools.cache
def _glyph_texts(path: str) -> dict[int, str]:
    """The text each glyph of a shaped face stands for, by glyph number, for the
    text copied from a document: a character's glyph its character, a glyph its
    substitutions make of others (GSUB: a variant, a ligature of a conjunct) the
    text of those, followed through the font's lookups until nothing is added.
    The same for a glyph in every document."""
    from fontTools.ttLib import TTFont as FontFile  # only documents that draw Thai or Devanagari

    font_file = FontFile(path, lazy=True)
    order = font_file.getGlyphOrder()
    texts = {
        name: chr(code) for code, name in sorted(font_file.getBestCmap().items(), reverse=True)
    }
    lookups = font_file["GSUB"].table.LookupList.Lookup if "GSUB" in font_file else []
    subtables = []
    for lookup in lookups:
        for subtable in lookup.SubTable:
            subtables.append(subtable.ExtSubTable if lookup.LookupType == 7 else subtable)
    added = True
    while added:
        added = False
        for subtable in subtables:
            pairs: list[tuple[list[str], str]] = []
            if subtable.LookupType == 1:
                pairs = [([source], target) for source, target in subtable.mapping.items()]
            elif subtable.LookupType == 3:
                pairs = [
                    ([source], target)
                    for source, targets in subtable.alternates.items()
                    for target in targets
                ]
            elif subtable.LookupType == 4:
                pairs = [
                    ([first, *ligature.Component], ligature.LigGlyph)
                    for first, ligatures in subtable.ligatures.items()
                    for ligature in ligatures
                ]
            for sources, target in pairs:
                if target not in texts and all(source in texts for source in sources):
                    texts[target] = "".join(texts[source] for source in sources)
                    added = True
    return {number: texts.get(name, "\ufffd") for number, name in enumerate(order)}


def _register_cid_font(name: str) -> None:
    if name in _cid_registered:
        return
    # only documents that draw CJK import them
    from reportlab.pdfbase._cidfontdata import CIDFontInfo
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont, structToPDF

    encoding, ordering, supplement = _CID_SYSTEMS[name]
    # reportlab's description of the font, labelled (a copy: reportlab's is shared)
    described = copy.deepcopy(CIDFontInfo[name])
    described["Encoding"] = f"/{encoding}"
    described["DescendantFonts"][0]["CIDSystemInfo"] = {
        "Registry": "(Adobe)",
        "Ordering": f"({ordering})",
        "Supplement": supplement,
    }

    class _Labelled(UnicodeCIDFont):
        """reportlab's font, its CIDFont labelled with its encoding's collection
        (`_CID_SYSTEMS`): reportlab's `CIDFont.addObjects` but for the label."""

        def addObjects(self, doc: Any) -> None:
            internal = f"F{len(doc.fontMapping) + 1}"
            font = structToPDF({**described, "Name": f"/{internal}"})  # type: ignore[no-untyped-call]
            doc.idToObject["BasicFonts"].dict[internal] = doc.Reference(font, internal)
            doc.fontMapping[self.name] = f"/{internal}"

    pdfmetrics.registerFont(_Labelled(name))
    _cid_registered.add(name)


def _with_font_tags(
    value: str, han: str, escape_text: Callable[[str], str], bold: bool = False
) -> str:
    """Paragraph markup of `value` with each CJK run in a <font> tag of its CID
    font (a face reportlab maps to itself in bold and italics), each Thai or
    Devanagari run in its Noto face, the bold one where `bold` (a <font> tag's face
    sets the weight in reportlab's parser), the text escaped by `escape_text`."""
    return "".join(
        escape_text(run)
        if font is None
        else f'<font face="{_SHAPED_FACES[font] if bold and font in _SHAPED_FACES else font}">'
        f"{escape_text(run)}</font>"
        for font, run in font_runs(value, han)
    )


def _cjk_in_markup(value: str, bold: bool = False) -> str:
    """Our own markup with the CJK, Thai and Devanagari runs of the text between
    its tags in their fonts: that text is escaped already, and their characters
    need no escaping. The Han font is chosen for the whole paragraph; a run inside
    <b> (or in a bold style, `bold`) in the bold Noto face."""
    han = _han_font(value)
    parts = _TAGS.split(value)  # text, tag, text, ...
    depth = 0  # of <b> tags open
    for index, part in enumerate(parts):
        if index % 2:
            tag = part.replace(" ", "").lower()
            depth += (tag == "<b>") - (tag == "</b>")
        else:
            parts[index] = _with_font_tags(part, han, str, bold or depth > 0)
    return "".join(parts)


# Hebrew and Arabic (and the other right-to-left scripts of the Basic Multilingual
# Plane: Syriac, Thaana, N'Ko, Samaritan, Mandaic; their presentation forms):
# DejaVu Sans has the glyphs of Hebrew and Arabic, but a PDF draws characters in
# the order given, left to right. So their text is given in display order: Arabic
# letters first replaced by their joined forms (`arabic_reshaper`: initial, medial,
# final or isolated, lam-alef as one), in the order typed, which is how lines are
# broken; then each line reordered as the Unicode bidirectional algorithm displays
# it (`python-bidi`), mirroring brackets in right-to-left runs (docs/pdfs.md).
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")
_ARABIC_LETTERS = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff]")
_reshape: list[Callable[[str], str]] = []


def has_rtl(value: str) -> bool:
    """Whether `value` holds a right-to-left character (one cheap check)."""
    return not value.isascii() and _RTL.search(value) is not None


def joined(value: str) -> str:
    """`value` with its Arabic letters in their joined forms, still in the order
    typed; text without Arabic letters as it is. Diacritics are kept, and only
    the lam-alef ligatures (which Arabic writing requires) are made: a name
    prints the letters its owner typed. A form DejaVu Sans has no glyph for
    (some letters of Persian or Urdu) stays the letter typed."""
    if value.isascii() or _ARABIC_LETTERS.search(value) is None:
        return value
    if not _reshape:
        from arabic_reshaper import ArabicReshaper  # only documents that draw Arabic
        from arabic_reshaper.ligatures import LIGATURES

        register_fonts()
        dejavu = cast(TTFont, pdfmetrics.getFont(FONT)).face.charToGlyph
        configuration: dict[str, Any] = {"delete_harakat": False, "support_ligatures": True}
        configuration.update((name, "LAM WITH ALEF" in name) for name, _ in LIGATURES)
        reshaper = ArabicReshaper(configuration=configuration)

        def reshape(text: str) -> str:
            # A joined form the font lacks is given back as the letter typed (NFKC).
            return "".join(
                form
                if ord(form) in dejavu or form.isspace()
                else unicodedata.normalize("NFKC", form)
                for form in reshaper.reshape(text)
            )

        _reshape.append(reshape)
    return _reshape[0](value)


# A name within our own words (`isolated`): between FSI and PDI, displayed in its
# own direction as one unit of the sentence, as Unicode's isolates are. The
# bidirectional algorithm used (python-bidi's own, which mirrors brackets) knows no
# isolates, so each is displayed apart and stands in the sentence for a neutral
# character (U+2FF0, of Unicode's class ON, which no name holds) until then.
_ISOLATE = re.compile("([\u2066-\u2068])([^\u2066-\u2069]*)(?:\u2069|$)|^([^\u2066-\u2069]*)\u2069")
# The direction each opening mark gives what it isolates: LRI left to right, RLI right
# to left, FSI (and a name going on from the line before) that of its first letter.
_ISOLATE_DIRECTION = {"\u2066": "L", "\u2067": "R"}
_ISOLATE_MARKS = re.compile("[\u2066-\u2069]")
_STANDING_IN = "\u2ff0"


def isolated(value: str) -> str:
    """`value` (a name, an address) marked to be displayed in its own direction
    within the text it is put in: a Hebrew or Arabic name first in an English
    sentence, which would otherwise make the sentence right to left; and (round 56)
    any name with a digit, a bracket or punctuation, which a right-to-left line would
    otherwise take apart ("Acme (2000) Ltd"'s closing bracket and number). Text of
    letters and spaces alone, which no line reorders, as it is. The marks are taken
    out of a text with no right-to-left character before it is drawn (`_unmarked`),
    so they change nothing there."""
    if has_rtl(value) or not all(
        unicodedata.bidirectional(character) in _ONE_RUN for character in value
    ):
        return f"\u2068{value}\u2069"
    return value


def left_to_right(value: str) -> str:
    """`value`, a text of our own words holding names (an invoice line's description
    stored as "{product}: {use} ..."), marked to be displayed left to right as one
    unit (LRI ... PDI) where it holds Hebrew or Arabic: else a name first would make
    the whole text right to left (round 56). Other text as it is."""
    return f"\u2066{value}\u2069" if has_rtl(value) else value


# The directions of a name no line reorders: letters written left to right, and spaces.
_ONE_RUN = frozenset({"L", "WS"})


def _unmarked(value: str) -> str:
    """`value` without the marks of isolated names where it holds no right-to-left
    character (a Latin name with digits isolated in an English sentence): there they
    change nothing, and no font draws them. Else as it is."""
    if ("\u2068" in value or "\u2066" in value) and not has_rtl(value):
        return _ISOLATE_MARKS.sub("", value)
    return value


def _base_direction(value: str) -> str:
    """The paragraph direction the bidirectional algorithm gives `value`: that of
    its first letter of a strong direction ("R" for Hebrew or Arabic, else "L"),
    outside isolated names."""
    for character in _ISOLATE.sub("", value):
        kind = unicodedata.bidirectional(character)
        if kind == "L":
            return "L"
        if kind in ("R", "AL"):
            return "R"
    return "L"


def displayed(value: str, base: str | None = None) -> str:
    """One line of text as it is displayed: Arabic joined, then reordered by the
    bidirectional algorithm (right-to-left runs reversed, their brackets
    mirrored), in `base` direction, by default the line's own; each isolated
    name (`isolated`) in its own. Text without a right-to-left character is
    returned as it is."""
    if not has_rtl(value):
        return value if value.isascii() else _ISOLATE_MARKS.sub("", value)
    return _display(joined(value), base)


def _display(line: str, base: str | None) -> str:
    outer = _ISOLATE.sub("", line)  # the line's own words, its isolated names left out
    direction = (base or _base_direction(outer)) if has_rtl(outer) else "L"
    return "".join(character for _, character in _display_order(line, direction))


def _displayed_lines(lines: Any, base: str) -> Any:
    """A paragraph's broken lines (one fragment's words, reportlab's kind 0), each
    reordered for display (a name isolated over two lines, `isolated`, in each);
    lines of several fragments are left as they are."""
    if lines.kind == 1:
        copy_of_lines: ParaFrag = ParaFrag.__new__(ParaFrag)
        copy_of_lines.__dict__ = {
            **lines.__dict__,
            "lines": [_displayed_fragments(line, base) for line in lines.lines],
        }
        return copy_of_lines
    if lines.kind != 0:
        return lines
    shown: list[tuple[float, list[str]]] = []
    inside = ""  # the mark of the isolate the line before ended within, if it did
    for extra, words in lines.lines:
        line = " ".join(words)
        marks = _ISOLATE_MARKS.findall(line)
        if inside and (not marks or marks[0] != "\u2069"):
            line = inside + line  # the name goes on from the line before
        if marks:
            inside = marks[-1] if marks[-1] != "\u2069" else ""
        shown.append((extra, displayed(line, base).split(" ")))
    copy: ParaFrag = ParaFrag.__new__(ParaFrag)
    copy.__dict__ = {**lines.__dict__, "lines": shown}
    return copy


def _displayed_fragments(line: Any, base: str) -> Any:
    """A line of several fragments (our markup: a bold run and a plain one) in
    display order: its characters reordered as the bidirectional algorithm
    displays the line's text, each keeping its fragment (its font), and the
    characters of one fragment that stay together drawn as one piece."""
    words = line.words
    if not all(_text_fragment(fragment) for fragment in words):
        return line  # an image or a callback in the line: as typed
    texts = [fragment.text for fragment in words]
    owners = [index for index, text in enumerate(texts) for _ in text]
    typed = "".join(texts)
    # A run in another font (CJK, or a shaped run: its glyphs in the order drawn, a
    # vowel sign first, private-use codes) is left to right and stays as it is: the
    # algorithm is given a letter of that direction for each of its characters.
    ours = {FONT, FONT_BOLD, FONT_ITALIC, FONT_BOLD_ITALIC}
    analysed = "".join(
        text if fragment.fontName in ours else "a" * len(text)
        for fragment, text in zip(words, texts, strict=True)
    )
    # A direction mark (`_marked`) beside another font's run is left out: its
    # characters are letters written left to right, which end a run themselves.
    pieces = [
        _clone(
            words[owner],
            text="".join(
                character if words[owner].fontName in ours else typed[index]
                for index, character in same
                if words[owner].fontName in ours or character not in _DIRECTION_MARKS
            ),
        )
        for owner, same in itertools.groupby(
            _display_order(analysed, base), key=lambda shown: owners[shown[0]]
        )
    ]
    copy_of_line = copy.copy(line)
    copy_of_line.words = pieces
    return copy_of_line


def _display_order(line: str, base: str) -> list[tuple[int, str]]:
    """Each character of `line` as displayed (mirrored where it must be), with
    its index in `line`, in display order, each isolated name (`isolated`: between
    FSI and PDI, or from the line's start to a PDI where a name goes on from the line
    before) displayed apart in its own direction and standing in the line for one
    neutral character, as Unicode's isolates are (round 56: names in a line of
    several fonts were not isolated); the marks themselves are left out. Each
    right-to-left run is given the direction marks a reader of the drawn order
    needs to read it back as typed (`_marked`, round 61)."""
    return _marked(_levelled_order(line, base))


# A run drawn right to left, read back from the page (text extraction, copy, a screen
# reader's text: pdftotext, as most readers, reads a drawn line left to right and
# turns each run from a right-to-left letter to the next left-to-right letter or digit
# round) takes the punctuation and spaces drawn after it into the run, and leaves
# those it begins with out: "(مترجم الرموز; rule" copied as "( ;مترجم الرموز rule".
# So each run of the right-to-left level (the bidirectional algorithm's, not the
# letters') is drawn with Unicode's marks where that reading would go wrong: an RLM
# (zero-width, right to left) before a run that begins with another character than a
# right-to-left letter, an LRM (left to right) after one followed by another than a
# left-to-right letter or a digit. They draw nothing (DejaVu Sans gives them no
# width) and are in the text as marks of direction, which is what they are.
_RLM, _LRM = "\u200f", "\u200e"
_DIRECTION_MARKS = frozenset((_RLM, _LRM))
_ENDS_A_RUN = frozenset(("L", "EN"))  # what a reader takes as the end of a run


def _marked(shown: list[tuple[int, str, int]]) -> list[tuple[int, str]]:
    """`shown` (index, character and level, in display order) with the direction
    marks a reader of the drawn order needs (above), each with the index of the
    character it stands beside."""
    marked: list[tuple[int, str]] = []
    last = len(shown) - 1
    for position, (index, character, level) in enumerate(shown):
        right_to_left = level % 2 == 1
        if (
            right_to_left
            and (position == 0 or shown[position - 1][2] % 2 == 0)
            and unicodedata.bidirectional(character) not in ("R", "AL")
        ):
            marked.append((index, _RLM))
        marked.append((index, character))
        if (
            right_to_left
            and position < last
            and shown[position + 1][2] % 2 == 0
            and unicodedata.bidirectional(shown[position + 1][1]) not in _ENDS_A_RUN
        ):
            marked.append((index, _LRM))
    return marked


def _levelled_order(line: str, base: str) -> list[tuple[int, str, int]]:
    """`_display_order` without the marks, each character with its level."""
    first_mark = _ISOLATE_MARKS.search(line)
    if first_mark is None:
        return _display_order_of(line, base)
    outer: list[int] = []  # the indices of the line's own characters, stand-ins as -1
    names: list[list[tuple[int, str, int]]] = []  # each stand-in's name, displayed
    start = 0 if first_mark[0] == "\u2069" else None  # within a name since `start`
    opener = ""  # the mark that opened it
    for index, character in enumerate(line):
        if character == "\u2069" and start is not None:
            names.append(_isolate_order(line, start, index, opener))
            outer.append(-1)
            start = None
        elif character in "\u2066\u2067\u2068" and start is None:
            start, opener = index + 1, character
        elif start is None and not _ISOLATE_MARKS.match(character):
            outer.append(index)
    if start is not None:  # a name that goes on to the next line
        names.append(_isolate_order(line, start, len(line), opener))
        outer.append(-1)
    text = "".join(_STANDING_IN if index < 0 else line[index] for index in outer)
    stand_ins = [position for position, index in enumerate(outer) if index < 0]
    name_at = dict(zip(stand_ins, names, strict=True))
    shown: list[tuple[int, str, int]] = []
    for position, character, level in _display_order_of(text, base):
        if outer[position] < 0:
            shown += name_at[position]
        else:
            shown.append((outer[position], character, level))
    return shown


def _isolate_order(line: str, start: int, end: int, opener: str) -> list[tuple[int, str, int]]:
    """The isolated name `line[start:end]` in display order in the direction its
    opening mark gives (FSI: its first letter's), indices in `line`, each character
    with its level (whose parity is the one the name has within the line)."""
    name = line[start:end]
    direction = _ISOLATE_DIRECTION.get(opener) or _base_direction(name)
    return [
        (start + index, character, level)
        for index, character, level in _display_order_of(name, direction)
    ]


def _display_order_of(line: str, base: str) -> list[tuple[int, str, int]]:
    """`_levelled_order` of a line without isolates: python-bidi's `get_display`
    step by step, each character marked with where it was typed first and its
    level."""
    from bidi import algorithm  # only documents that draw Hebrew or Arabic

    storage = algorithm.get_empty_storage()
    level = algorithm.PARAGRAPH_LEVELS[base]
    storage["base_level"], storage["base_dir"] = level, base
    algorithm.get_embedding_levels(line, storage)
    for index, character in enumerate(storage["chars"]):
        character["typed_at"] = index
    for step in (
        algorithm.explicit_embed_and_overrides,
        algorithm.resolve_weak_types,
        algorithm.resolve_neutral_types,
        algorithm.resolve_implicit_levels,
        algorithm.reorder_resolved_levels,
        algorithm.apply_mirroring,
    ):
        step(storage, False)
    return [
        (character["typed_at"], character["ch"], character["level"])
        for character in storage["chars"]
    ]


INK = colors.HexColor("#1b2430")
MUTED = colors.HexColor("#55606e")
LINE = colors.HexColor("#c9d0d9")
BRAND = colors.HexColor("#0b4f8a")
WASH = colors.HexColor("#eef1f5")


def stylesheet() -> StyleSheet1:
    sheet = StyleSheet1()
    base = ParagraphStyle("Body", fontName=FONT, fontSize=9.5, leading=13, textColor=INK)
    sheet.add(base)
    sheet.add(ParagraphStyle("Small", parent=base, fontSize=8, leading=10.5, textColor=MUTED))
    sheet.add(
        ParagraphStyle(
            "Title", parent=base, fontName=FONT_BOLD, fontSize=17, leading=21, spaceAfter=4
        )
    )
    sheet.add(ParagraphStyle("Subtitle", parent=base, fontSize=10.5, leading=14, textColor=MUTED))
    sheet.add(
        ParagraphStyle(
            "Heading",
            parent=base,
            fontName=FONT_BOLD,
            fontSize=11,
            leading=14,
            spaceBefore=10,
            spaceAfter=4,
            textColor=BRAND,
        )
    )
    sheet.add(ParagraphStyle("Clause", parent=base, spaceAfter=5, leftIndent=18, firstLineIndent=0))
    sheet.add(ParagraphStyle("Cell", parent=base, fontSize=8.5, leading=11))
    sheet.add(
        ParagraphStyle("CellRight", parent=base, fontSize=8.5, leading=11, alignment=TA_RIGHT)
    )
    sheet.add(ParagraphStyle("CellBold", parent=base, fontName=FONT_BOLD, fontSize=8.5, leading=11))
    # A table of many amount columns (`table(..., small=True)`; round 53: the monthly
    # report's eight-column trend, where 8.5 points wrapped 1,000,000.00 in its cell).
    sheet.add(ParagraphStyle("CellSmall", parent=base, fontSize=7, leading=9))
    sheet.add(
        ParagraphStyle("CellSmallRight", parent=base, fontSize=7, leading=9, alignment=TA_RIGHT)
    )
    sheet.add(
        ParagraphStyle("CellSmallBold", parent=base, fontName=FONT_BOLD, fontSize=7, leading=9)
    )
    sheet.add(ParagraphStyle("Stamp", parent=base, fontName=FONT_BOLD, fontSize=20, leading=24))
    return sheet


STYLES = stylesheet()
# The styles by name, for the steps of every paragraph and cell: `STYLES[name]`
# is a Python method looking in the sheet's aliases first (ours has none).
_STYLE_BY_NAME: dict[str, Any] = STYLES.byName


def text(value: object) -> str:
    """Escape user-supplied text for reportlab's paragraph markup."""
    return escape(str(value))


class _Paragraph(Paragraph):
    """A reportlab Paragraph that breaks its lines once per width.

    Frames, tables and KeepTogether each ask a paragraph to wrap before they draw
    or split it, mostly at the same width, and reportlab breaks the lines again
    every time (a third of the wraps of an agreement). The lines depend on the
    text, the style and the width alone, so a second wrap at the same width
    returns what the first found; `split` deletes `blPara` when it gives up,
    which forces a fresh wrap.
    """

    _wrapped_width: float | None = None
    blPara: Any  # reportlab's lines, set by a wrap (declared, not a class attribute)
    # Set by `para()` for plain text: its fragment is ours (no link, underline
    # or bullet), so whether it draws plainly depends on its style and lines alone.
    _plain_text = False
    # Set by `para()` (and a bold run alone) where its style's fragment breaks
    # the simple way (`_plain_breaking`, decided once per style: `_plain_fragment`),
    # so that its wraps need not ask again; else the check runs at each wrap.
    _breaks_plainly = False
    # The lines `wrap_plainly` set, and their key in the table of broken lines.
    _plain_blpara: Any = None
    _lines_key: tuple[Any, ...] | None = None
    # Whether the text of those lines is printable (`str.isprintable`), found
    # once per text with its lines rather than at each drawing.
    _printable = False

    # reportlab's `Flowable.getSpaceBefore` and `getSpaceAfter` (the paragraph's
    # own attribute if it has one, else its style's), without the failed look-up
    # of the attribute no paragraph of ours has: the layout asks each paragraph
    # placed three or four times.
    def getSpaceBefore(self) -> float:
        return self.__dict__.get("spaceBefore", self.style.spaceBefore)  # type: ignore[no-any-return]

    def getSpaceAfter(self) -> float:
        return self.__dict__.get("spaceAfter", self.style.spaceAfter)  # type: ignore[no-any-return]

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        plain = self.wrap_plainly(availWidth)
        if plain is not None:
            return plain
        size: tuple[float, float] = super().wrap(availWidth, availHeight)
        self._wrapped_width = availWidth if availWidth >= _FUZZ else None
        return size

    def wrap_plainly(self, width: float) -> tuple[float, float] | None:
        """`wrap(width, ...)` for a paragraph of one plain fragment, the lines
        taken from the table of lines broken before (`_plain_lines`): what
        reportlab's `wrap` sets, without its general steps; None where reportlab
        must wrap it (markup, a word longer than the line, a wrap at another width)."""
        fields = self.__dict__
        if width == self._wrapped_width and "blPara" in fields:
            return self.width, self.height
        style = self.style
        if width < _FUZZ or not (self._breaks_plainly or _plain_breaking(self, style)):
            return None
        indent = style.leftIndent
        widths = [
            width - (indent + style.firstLineIndent) - style.rightIndent,
            width - indent - style.rightIndent,
        ]
        lines = self._plain_lines(widths, checked=True)
        if lines is None:
            return None
        height = len(lines.lines) * style.leading
        # What reportlab's `wrap` sets, in one update.
        fields.update(
            width=width,
            _wrapWidths=widths,
            blPara=lines,
            _plain_blpara=lines,
            height=height,
            _wrapped_width=width,
        )
        return width, height

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:
        """A plain paragraph placed as reportlab's `Flowable.drawOn` places it
        (`q`, the translation, the paragraph, `Q`), without copying the canvas's
        state to restore it: drawing it changes none of that state (its colour
        is set and undone inside its own `q` and `Q`, `_draw_in_colour`), so
        the restore would put back what is already there. Else reportlab's."""
        # reportlab's members, which its stubs leave out.
        flowable: Any = self
        # A paragraph has no `_showBoundary` unless something set it on it
        # (reportlab's `Paragraph.__init__` does not), so no failed look-up.
        plain = not (flowable.debug or self.__dict__.get("_showBoundary"))
        key = self._drawing_key(canvas) if plain else None
        drawn = _DRAWN.get(key) if key is not None else None
        if drawn is None and not (plain and _draws_plainly(self)):
            flowable_draw_on: Any = super().drawOn
            flowable_draw_on(canvas, x, y, _sW)
            return
        if _sW:  # `_hAlignAdjust` moves nothing where nothing is spare (our loop's paragraphs)
            x = flowable._hAlignAdjust(x, _sW)
        code: list[str] = canvas._code  # type: ignore[attr-defined]
        # saveState's q, then translate's matrix (nothing before it to merge with).
        code += ("q", f"1 0 0 1 {_fp(x, y)} cm")
        if drawn is not None:
            _draw_in_colour(canvas, self.blPara.textColor, drawn)
        else:
            self.canv = canvas
            self._draw_plainly(key)
            del self.canv
        code.append("Q")

    def _drawing_key(self, canvas: Canvas) -> tuple[Any, ...] | None:
        """What the text operators of this paragraph depend on: plain text
        (`para()`) of printable characters broken into remembered lines, its
        style, height and the name of the font's first subset in the document,
        and the codes its characters have in that subset. Printable ASCII has
        its own codes in every subset of our fonts (None stands for them); any
        other character counts by the code this document gave it, so text whose
        characters all have one already (the notices' © and ®, each step of
        working's "·", once the document has drawn them) is keyed by the text
        as coded. Else None: drawn, and not remembered."""
        fields = self.__dict__
        lines: Any = fields.get("blPara")
        if not self._plain_text or lines is None or lines is not self._plain_blpara:
            return None
        # Whether the text is printable was found with its lines (`_plain_lines`).
        if not self._printable:
            return None
        text: str = self.frags[0].text
        font_name: str = lines.fontName
        coded: str | None = None
        if not text.isascii():
            font: Any = pdfmetrics.getFont(font_name)
            state: Any = font.state.get(canvas._doc)  # type: ignore[attr-defined]
            known: frozenset[str] | None = getattr(state, "known_characters", None)
            if known is None or not known.issuperset(text):
                return None  # a character without its code yet: reportlab assigns it
            coded = text.translate(state.first_subset_codes)
        names: dict[str, str] | None = getattr(canvas, "_first_subset_names", None)
        name = names.get(font_name) if names is not None else None
        if name is None:
            name = _first_subset_name(canvas, pdfmetrics.getFont(font_name))
        return (fields["_lines_key"], self.style, name, fields["height"], coded)

    def drawPara(self, debug: int = 0) -> None:
        """One left-aligned plain paragraph drawn with the operators reportlab's
        `drawPara` writes for it, without its per-line steps; else reportlab's."""
        if debug or not _draws_plainly(self):
            super().drawPara(debug)
            return
        self._draw_plainly()

    def _draw_plainly(self, key: tuple[Any, ...] | None = None) -> None:
        canvas = self.canv
        style = self.style
        lines: Any = self.blPara
        font = pdfmetrics.getFont(lines.fontName)
        document = canvas._doc  # type: ignore[attr-defined]
        escape_text = canvas._escape  # type: ignore[attr-defined]
        split_text = font.splitString  # type: ignore[attr-defined]
        size_and_leading = f"{_fp(lines.fontSize)} Tf {_fp(style.leading)} TL"
        y = self.height - (lines.fontSize if paraFontSizeHeightOffset else lines.ascent)
        code = ["BT", f"1 0 0 1 {_fp(style.leftIndent, y)} Tm"]
        texts = [" ".join(words) for _, words in lines.lines]
        state = font.state.get(document)  # type: ignore[attr-defined]
        known: frozenset[str] | None = getattr(state, "known_characters", None)
        # Every character has its code in the first subset (`_EmbeddedFont`): one call a line.
        codes = state.first_subset_codes if known and all(map(known.issuperset, texts)) else None
        subset = -1
        for (extra, words), line in zip(lines.lines, texts, strict=True):
            # A line wider than its width (its spaces shrunk to fit) is drawn
            # with its word spacing narrowed, as reportlab's `_leftDrawParaLine`.
            spaces = len(words) + line.count("\xa0") - 1
            narrowed = extra <= -1e-8 and spaces > 0
            if narrowed:
                code.append(f"{fp_str(extra / float(spaces))} Tw")
            chunks = (
                [(0, line.translate(codes).encode("latin-1"))]
                if codes is not None
                else split_text(line, document)
            )
            for chunk_subset, chunk in chunks:
                if chunk_subset != subset:
                    name = font.getSubsetInternalName(chunk_subset, document)  # type: ignore[attr-defined]
                    code.append(f"{name} {size_and_leading}")
                    subset = chunk_subset
                code.append(f"({escape_text(chunk)}) Tj")
            code.append("T*")
            if narrowed:
                code.append("0 Tw")
        code.append("ET")
        drawn = " ".join(code)
        if key is not None:  # the same operators in any document (`_drawing_key`)
            if len(_DRAWN) >= _DRAWN_BOUND:
                _DRAWN.clear()
            _DRAWN[key] = drawn
        _draw_in_colour(canvas, lines.textColor, drawn)

    def breakLines(self, width: Any) -> Any:
        lines = self._plain_lines(width if isinstance(width, list | tuple) else [width])
        return lines if lines is not None else super().breakLines(width)

    def _plain_lines(self, widths: Sequence[float], checked: bool = False) -> Any:
        """reportlab's own line breaking of one fragment of plain text (its
        simple case), with each word measured once per process; None where
        reportlab does more (markup, bullets, hyphens, no-break spaces, a word
        longer than the line), and then reportlab breaks the lines itself.

        The loop is reportlab's, step for step with the same arithmetic, so the
        lines and their widths are the same floats; measuring every word through
        `stringWidth` was most of the time it took.
        """
        style = self.style
        if not (checked or _plain_breaking(self, style)):  # `wrap_plainly` checked it
            return None
        fragment = self.frags[0]
        attributes = fragment.__dict__
        size = attributes["fontSize"]
        key = (attributes["text"], attributes["fontName"], size, style.spaceShrinkage, *widths)
        known = _BROKEN_LINES.get(key)
        if known is None:
            broken = self._break_plainly(fragment, style, widths)
            if broken is None:
                return None
            if len(_BROKEN_LINES) >= _BROKEN_LINES_BOUND:
                _BROKEN_LINES.clear()
            known = _BROKEN_LINES[key] = (*broken, attributes["text"].isprintable())
        lines, widest, ascent, descent, printable = known
        self.__dict__.update(
            _lines_key=key,
            _printable=printable,
            _width_max=widest,
            height=0,
            _splitLongWordCount=0,
            _hyphenations=0,
        )
        # `_clone(fragment, kind=0, lines=..., ascent=..., descent=..., fontSize=...)`, inlined.
        copy: ParaFrag = ParaFrag.__new__(ParaFrag)
        copy.__dict__ = {
            **attributes,
            "kind": 0,
            "lines": lines,
            "ascent": ascent,
            "descent": descent,
            "fontSize": size,
        }
        return copy

    @staticmethod
    def _break_plainly(fragment: ParaFrag, style: ParagraphStyle, widths: Sequence[float]) -> Any:
        words = split(strip(fragment.text))
        if not words or "\xad" in fragment.text or "\xa0" in fragment.text:
            return None
        font, size = fragment.fontName, fragment.fontSize
        measured = _measured_words(font, size)
        space = _word_width(measured, " ", font, size)
        shrink = style.spaceShrinkage * space
        last = len(widths) - 1
        widest: float = 0
        lines: list[tuple[float, list[str]]] = []
        line: list[str] = []
        line_number, line_width, current = 0, widths[0], -space
        for word in words:
            width = measured.get(word)
            if width is None:
                width = _word_width(measured, word, font, size)
            new = current + space + width
            if new > line_width + shrink * len(line):
                if width > widths[min(line_number, last)]:
                    return None  # reportlab splits a word longer than the line
                if line:
                    widest = max(widest, current)
                    lines.append((line_width - current, line))
                    line, current = [word], width
                    line_number += 1
                    line_width = widths[min(last, line_number)]
                    continue
            line.append(word)
            current = new
        lines.append((line_width - current, line))
        ascent, descent = pdfmetrics.getAscentDescent(font, size)
        return lines, max(widest, current), ascent, descent


class _RunsLine(_Paragraph):
    """A paragraph of a bold run and a plain run (`_bold_run`) that fits on one
    line, measured and drawn with the operators reportlab's `drawPara` writes
    for such a line (its fragments' fonts set in turn in one text object),
    without breaking it into reportlab's fragment lines (80-100 µs: a tenth of
    an agreement, whose every use is headed so). Wider than its line, in other
    colours or sizes, or with characters the document has not yet coded, it is
    reportlab's."""

    _one_line_width: float | None = None

    def __getattr__(self, name: str) -> Any:
        """reportlab's lines, broken when something reads them (its `split`, a
        caller of its own): only then is the line not drawn our way."""
        if name == "blPara" and self.__dict__.get("_one_line_width") is not None:
            Paragraph.wrap(self, self.width, 0xFFFFFFF)
            return self.__dict__["blPara"]
        raise AttributeError(name)

    def wrap_plainly(self, width: float) -> tuple[float, float] | None:
        if width == self._one_line_width and "blPara" not in self.__dict__:
            return self.width, self.height
        style = self.style
        if len(self.frags) != 2:  # reportlab's breaking may have split them
            return None
        first, second = self.frags
        if (
            width < _FUZZ
            or not paraFontSizeHeightOffset
            or style.alignment != TA_LEFT
            or first.fontSize != second.fontSize
            or first.textColor != second.textColor
            or self.bulletText
            or not all(map(_text_fragment, self.frags))
            or not _plain_breaking_style(self, style)
        ):
            return None
        size = first.fontSize
        line = width - (style.leftIndent + style.firstLineIndent) - style.rightIndent
        used = pdfmetrics.stringWidth(first.text, first.fontName, size) + pdfmetrics.stringWidth(
            second.text, second.fontName, size
        )
        if used > line - 0.01:  # where reportlab's sum of words might not fit
            return None
        self.__dict__.pop("blPara", None)
        self.width = width
        self.height = style.leading
        self._one_line_width = width
        return width, self.height

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        plain = self.wrap_plainly(availWidth)
        if plain is not None:
            return plain
        self._one_line_width = None
        return Paragraph.wrap(self, availWidth, availHeight)

    def split(self, availWidth: float, availHeight: float) -> list[Any]:
        if self._one_line_width is not None and "blPara" not in self.__dict__:
            return []  # one line: reportlab's split gives nothing either
        self._one_line_width = None
        parts: list[Any] = super().split(availWidth, availHeight)
        return parts

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:
        flowable: Any = self
        code = None
        if self._one_line_width is not None and "blPara" not in self.__dict__:
            if not (flowable.debug or getattr(self, "_showBoundary", None)):
                code = self._line_code(canvas)
            if code is None:  # reportlab's, with reportlab's lines
                self._one_line_width = None
                Paragraph.wrap(self, self.width, 0xFFFFFFF)
        if code is None:
            super().drawOn(canvas, x, y, _sW)
            return
        canvas._code += (  # type: ignore[attr-defined]
            "q",
            f"1 0 0 1 {_fp(flowable._hAlignAdjust(x, _sW), y)} cm",
            "q",
            code,
            "Q",
            "Q",
        )

    def _line_code(self, canvas: Canvas) -> str | None:
        """reportlab's operators for the line, where its colour is an opaque RGB
        colour and the document has coded every character in the first subset."""
        style = self.style
        document = canvas._doc  # type: ignore[attr-defined]
        colour = self.frags[0].textColor
        if type(colour) is not colors.Color or getattr(colour, "alpha", 1) != 1:
            return None
        if getattr(canvas, "_enforceColorSpace", None) is not None:
            return None
        size = self.frags[0].fontSize
        parts = [
            f"BT 1 0 0 1 {_fp(style.leftIndent, self.height - size)} Tm",
            f"{_fp(style.leading)} TL {_fp(colour.red, colour.green, colour.blue)} rg",
        ]
        escape_text = canvas._escape  # type: ignore[attr-defined]
        for fragment in self.frags:
            font: Any = pdfmetrics.getFont(fragment.fontName)
            state = font.state.get(document)
            known: frozenset[str] | None = getattr(state, "known_characters", None)
            if not font._dynamicFont or not known or not known.issuperset(fragment.text):
                return None
            name = font.getSubsetInternalName(0, document)
            coded = fragment.text.translate(state.first_subset_codes).encode("latin-1")
            parts.append(f"{name} {_fp(size)} Tf {_fp(style.leading)} TL")
            parts.append(f"({escape_text(coded)}) Tj")
        parts.append("T* ET")
        return " ".join(parts)


class _RightToLeft(_Paragraph):
    """Plain text with Hebrew or Arabic (`para()`): its lines broken in the order
    typed, its Arabic joined already, and each line drawn in display order
    (`displayed`) in the paragraph's direction. The lines are reordered only
    while the paragraph draws, so a split, or a wrap again, reads them as typed.
    A paragraph whose direction is right to left (its first letter Hebrew or
    Arabic) is drawn right-aligned where its style is left-aligned or justified
    (round 55), as a reader of the script expects and a browser's `dir=auto` does;
    its lines are the same, so only where each starts changes."""

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:
        lines = self.__dict__.get("blPara")
        if lines is None:
            super().drawOn(canvas, x, y, _sW)
            return
        direction = self.__dict__.get("_direction")  # our markup's, outside isolated names
        if direction is None:
            text = self.text  # a part reportlab split off has none: its lines' words
            if not isinstance(text, str) and lines.kind == 0:
                text = " ".join(" ".join(words) for _, words in lines.lines)
            direction = _base_direction(text or "")
        self.blPara = _displayed_lines(lines, direction)
        style = self.style
        if direction == "R" and style.alignment in (TA_LEFT, TA_JUSTIFY):
            self.style = _right_aligned(style)
        try:
            super().drawOn(canvas, x, y, _sW)
        finally:
            self.blPara = lines
            self.style = style


_RIGHT_ALIGNED: dict[str, ParagraphStyle] = {}


def _right_aligned(style: ParagraphStyle) -> ParagraphStyle:
    """`style` aligned right, for a right-to-left paragraph: one copy a style, of
    its own name (what a paragraph of ours remembers drawing is keyed by its style)."""
    copy_of_style = _RIGHT_ALIGNED.get(style.name)
    if copy_of_style is None or copy_of_style.parent is not style:
        copy_of_style = ParagraphStyle(f"{style.name}, right to left", parent=style)
        copy_of_style.alignment = TA_RIGHT
        _RIGHT_ALIGNED[style.name] = copy_of_style
    return copy_of_style


def _draw_in_colour(canvas: Canvas, colour: Any, code: str) -> None:
    """Text `code` between a saved and restored graphics state with its fill
    colour, as reportlab's `drawPara` writes it. An opaque RGB colour (all our
    styles') changes nothing that the restore does not undo, so its operators
    are written without copying the canvas's state twice; reportlab does
    anything else."""
    state: Any = canvas
    # The colour's alpha and fill operator, by the colour itself (our styles'
    # few colours, never changed once made), else found and kept.
    known = _COLOUR_FILLS.get(id(colour))
    fill: str | None
    if known is not None and known[0] is colour:
        alpha, fill = known[1], known[2]
    elif type(colour) is colors.Color:
        alpha = getattr(colour, "alpha", None)
        rgb = (colour.red, colour.green, colour.blue)
        fill = _FILLS.get(rgb)
        if fill is None:
            if len(_FILLS) >= _FILLS_BOUND:
                _FILLS.clear()
            fill = _FILLS[rgb] = f"{fp_str(rgb)} rg"
        if len(_COLOUR_FILLS) >= _FILLS_BOUND:
            _COLOUR_FILLS.clear()
        _COLOUR_FILLS[id(colour)] = (colour, alpha, fill)
    else:
        alpha, fill = None, None
    if (
        fill is None
        or getattr(canvas, "_enforceColorSpace", None) is not None
        or (alpha is not None and alpha != state._extgstate.getValue("ca"))
    ):
        canvas.saveState()
        canvas.setFillColor(colour)
        state._code.append(code)
        canvas.restoreState()
        return
    document = state._doc
    if alpha is not None and document._pdfVersion < _TRANSPARENCY_VERSION:
        document.ensureMinPdfVersion("transparency")  # as setFillAlpha does
    state._code += ("q", fill, code, "Q")


# The fill colour operator of each colour drawn (a handful: our styles'), and the
# PDF version a colour with an alpha asks for: both were a microsecond and more
# for every paragraph drawn.
_FILLS: dict[tuple[float, float, float], str] = {}
# By the colour object's id, with the colour (so its id is not another's) and its alpha.
_COLOUR_FILLS: dict[int, tuple[Any, float | None, str]] = {}
_FILLS_BOUND = 256
_TRANSPARENCY_VERSION = pdfdoc.PDF_SUPPORT_VERSION["transparency"]


def _draws_plainly(paragraph: Paragraph) -> bool:
    """Whether reportlab draws this paragraph in its simplest way: lines of one
    plain fragment in an embedded font, left-aligned, from the left indent (a
    line wider than its width narrowed as reportlab narrows it); no bullet,
    background, border, link or underline."""
    lines: Any = paragraph.blPara  # type: ignore[attr-defined]
    style = paragraph.style
    return (
        lines.kind == 0
        and style.alignment == TA_LEFT
        and not paragraph.bulletText
        and not (style.firstLineIndent or getattr(paragraph, "_offsets", None))
        and not (style.backColor or (style.borderWidth and style.borderColor))
        # Lines reportlab broke itself may carry neither: those it draws itself.
        and not (getattr(lines, "us_lines", True) or getattr(lines, "link", True))
        and not style.wordWrap
        and getattr(paragraph, "autoLeading", getattr(style, "autoLeading", "")) in ("", "off")
        and pdfmetrics.getFont(lines.fontName)._dynamicFont  # type: ignore[attr-defined]
        # A shaped face's words may need their typed text (`_TextObject`, round 56).
        and lines.fontName not in _SHAPED_FONT_NAMES
        and all(words for _, words in lines.lines)
    )


def _plain_breaking(paragraph: Paragraph, style: ParagraphStyle) -> bool:
    """Whether reportlab breaks this paragraph's lines in its simple way: one
    fragment of text, no bullet, no hyphenation, shaping, bidi or leaders."""
    frags = paragraph.frags
    if len(frags) != 1 or paragraph.bulletText:
        return False
    fragment = frags[0]
    return (
        type(fragment) is ParaFrag
        and "text" in fragment.__dict__
        and not hasattr(fragment, "cbDefn")
        and not hasattr(fragment, "backColor")
        # `_plain_breaking_style`, inlined: this runs for every paragraph wrapped
        and not (style.hyphenationLang or style.uriWasteReduce or style.embeddedHyphenation)
        and not (style.shaping or style.endDots or style.wordWrap)
        and getattr(paragraph, "autoLeading", getattr(style, "autoLeading", "")) in ("", "off")
    )


def _text_fragment(fragment: ParaFrag) -> bool:
    """A fragment of text alone: no image, callback or background."""
    return (
        type(fragment) is ParaFrag
        and "text" in fragment.__dict__
        and not hasattr(fragment, "cbDefn")
        and not hasattr(fragment, "backColor")
    )


def _plain_breaking_style(paragraph: Paragraph, style: ParagraphStyle) -> bool:
    """`_plain_breaking`'s conditions on the style (every fragment checked apart)."""
    return (
        not (style.hyphenationLang or style.uriWasteReduce or style.embeddedHyphenation)
        and not (style.shaping or style.endDots or style.wordWrap)
        and getattr(paragraph, "autoLeading", getattr(style, "autoLeading", "")) in ("", "off")
    )


# The width of every word measured, by font and size: documents repeat their
# words (the clauses are the same in every agreement). Emptied when it grows past
# a bound, as a process may see any number of distinct names and numbers.
_WORD_WIDTHS: dict[tuple[str, float], dict[str, float]] = {}
_WORD_WIDTHS_BOUND = 200_000


def _measured_words(font: str, size: float) -> dict[str, float]:
    measured = _WORD_WIDTHS.get((font, size))
    if measured is None:
        measured = _WORD_WIDTHS[font, size] = {}
    return measured


def _word_width(measured: dict[str, float], word: str, font: str, size: float) -> float:
    if len(measured) >= _WORD_WIDTHS_BOUND:
        measured.clear()
    width = measured[word] = pdfmetrics.stringWidth(word, font, size, "utf8")
    return width


# The lines each plain paragraph broke into, by its text, font, size, shrinkage and
# line widths: the clauses and notices are the same text in every agreement, and
# each invoice repeats its headings. Read, never changed, by reportlab (it slices
# them when it splits a paragraph). Emptied when it grows past a bound.
# Beside them, whether the text is printable (`_Paragraph._drawing_key`).
_BROKEN_LINES: dict[
    tuple[Any, ...], tuple[list[tuple[float, list[str]]], float, float, float, bool]
] = {}
_BROKEN_LINES_BOUND = 4096


# The text operators (`BT` to `ET`) of each plain paragraph of printable ASCII,
# by its lines, style, font subset name and height (`_Paragraph._drawing_key`):
# the clauses and notices are drawn the same in every agreement, only placed
# elsewhere. Emptied when it grows past a bound.
_DRAWN: dict[tuple[Any, ...], str] = {}
_DRAWN_BOUND = 4096


def _clone(fragment: ParaFrag, **changes: Any) -> ParaFrag:
    """`fragment.clone(**changes)`, the same attributes in the same order, without
    reportlab's keyword arguments (two copies of the attributes; a paragraph
    clones a fragment twice, 80 paragraphs an agreement)."""
    kind = type(fragment)
    copy: ParaFrag = kind.__new__(kind)
    copy.__dict__ = {**fragment.__dict__, **changes}
    return copy


# By style name: the fragment reportlab's parser makes for plain text in the
# style, and the attributes reportlab's `Paragraph.__init__` gives a paragraph
# of one such fragment (its text and fragments aside), with whether its lines
# break the simple way (`_plain_breaking`), which is the same for every such
# paragraph of the style: decided here once, not at each wrap.
_PLAIN_FRAGMENTS: dict[str, tuple[ParaFrag, dict[str, Any]]] = {}


def _plain_fragment(style: str) -> tuple[ParaFrag, dict[str, Any]]:
    known = _PLAIN_FRAGMENTS.get(style)
    if known is None:
        paragraph_style = _STYLE_BY_NAME[style]
        parsed: ParaFrag = Paragraph("x", paragraph_style).frags[0]
        probe = _Paragraph("x", paragraph_style, frags=[_plain_copy(parsed, "x")])
        fields = {**probe.__dict__, "_plain_text": True}
        if _plain_breaking(probe, paragraph_style):
            fields["_breaks_plainly"] = True
        known = _PLAIN_FRAGMENTS[style] = (parsed, fields)
    return known


def _plain_copy(fragment: ParaFrag, text: str) -> ParaFrag:
    """`_clone(fragment, text=text, link=[], us_lines=[])`, inlined: a plain
    paragraph's fragment."""
    copy: ParaFrag = ParaFrag.__new__(ParaFrag)
    copy.__dict__ = {**fragment.__dict__, "text": text, "link": [], "us_lines": []}
    return copy


# Text as reportlab cleans it (whitespace runs and line breaks made single
# spaces), by the text: the clauses, notices and headings are the same text in
# every document. Emptied when it grows past a bound.
_CLEANED: dict[str, str] = {}
_CLEANED_BOUND = 4096


def _clean(value: str) -> str:
    cleaned = _CLEANED.get(value)
    if cleaned is None:
        if len(_CLEANED) >= _CLEANED_BOUND:
            _CLEANED.clear()
        cleaned = _CLEANED[value] = cleanBlockQuotedText(value)
    return cleaned


# What reportlab's markup parser made of each markup text in each style (the
# cleaned text, the style it gives back, the fragments): parsing is a hundred
# microseconds where a plain paragraph takes a few, and the markup repeats (the
# headings of the parties, each use's title, every download of an invoice).
# Emptied when it grows past a bound.
_PARSED: dict[tuple[str, str], tuple[str, ParagraphStyle, list[ParaFrag]]] = {}
_PARSED_BOUND = 1024


def _parsed(value: str, style: str, kind: type[_Paragraph] | None = None) -> Paragraph:
    """A paragraph of markup `value`, parsed once per process: each paragraph
    gets copies of the fragments (reportlab reads them, but a copy keeps one
    paragraph from ever seeing what another set on its own)."""
    key = (value, style)
    known = _PARSED.get(key)
    if known is None:
        paragraph = _Paragraph(value, STYLES[style])
        if paragraph.bulletText is not None:  # not ours: keep reportlab's own
            return paragraph
        if len(_PARSED) >= _PARSED_BOUND:
            _PARSED.clear()
        known = _PARSED[key] = (paragraph.text, paragraph.style, paragraph.frags)
    cleaned, parsed_style, fragments = known
    kind = kind or _Paragraph
    return kind(cleaned, parsed_style, frags=[fragment.clone() for fragment in fragments])


def para(value: object, style: str = "Body") -> Paragraph:
    """A paragraph of plain text (user-supplied or not), never read as markup.

    Plain text skips the markup parser (a fifth of an agreement's time): its
    single fragment is the one the parser gives for any plain text in this
    style, carrying this text, so the lines and the bytes are the same. Text
    with <, > or & (an address's "Attn: name <email>", "Smith & Sons") takes the
    same way: the parser would split it into fragments of the same style at
    each of those characters (its entities), which reportlab then breaks and
    draws the slow way, with the same lines and look. Text with CJK characters
    is escaped and parsed with those in <font> tags of their CID fonts
    (`font_runs`).
    """
    register_fonts()
    raw = _unmarked(str(value))
    cleaned = _clean(raw)
    if has_other_script(cleaned):
        bold = _STYLE_BY_NAME[style].fontName == FONT_BOLD
        if has_rtl(cleaned):
            # Hebrew or Arabic beside CJK, Thai or an Indic script (round 55: its
            # right-to-left runs were drawn as typed): Arabic joined, each run in its
            # font, and each line drawn in display order (`_displayed_fragments`).
            # Isolated names keep their marks: `_display_order` displays each apart.
            value = _with_font_tags(joined(raw), _han_font(raw), text, bold)
            return _right_to_left(value, style, _base_direction(cleaned))
        return _parsed(_with_font_tags(raw, _han_font(raw), text, bold), style)
    if not cleaned:
        return _parsed(text(raw), style)
    kind = _Paragraph
    if has_rtl(cleaned):  # Hebrew or Arabic: drawn in display order, Arabic joined
        cleaned, kind = joined(cleaned), _RightToLeft
    fragment, fields = _plain_fragment(style)
    # What `_Paragraph(cleaned, STYLES[style], frags=[...])` sets, and `_plain_text`,
    # without reportlab's `__init__` and `_setup` for each paragraph.
    paragraph: _Paragraph = kind.__new__(kind)
    paragraph.__dict__ = {**fields, "text": cleaned, "frags": [_plain_copy(fragment, cleaned)]}
    return paragraph


def _right_to_left(value: str, style: str, direction: str) -> Paragraph:
    """A `_RightToLeft` paragraph of markup `value` (its Arabic joined), drawn line by
    line in display order in `direction`, that of its text outside isolated names."""
    paragraph = _parsed(value, style, _RightToLeft)
    paragraph.__dict__["_direction"] = direction
    return paragraph


def markup(value: str, style: str = "Body") -> Paragraph:
    """A paragraph whose text is already safe markup (our own templates, escaped
    values); CJK runs of its text are drawn in their CID fonts, Hebrew and Arabic
    line by line in display order (`_RightToLeft`)."""
    register_fonts(oblique=_OBLIQUE_MARKUP.search(value) is not None)
    value = _unmarked(value)
    if has_rtl(value):
        # Hebrew or Arabic: Arabic joined, the lines broken as typed and each drawn
        # in display order (`_RightToLeft`), in the direction of the text outside
        # isolated names (whose marks the algorithm refuses: taken out).
        direction = _base_direction(_TAGS.sub("", value))
        value = joined(value)  # isolated names keep their marks (`_display_order`)
        if has_other_script(value):
            value = _cjk_in_markup(value, _STYLE_BY_NAME[style].fontName == FONT_BOLD)
        return _right_to_left(value, style, direction)
    if has_other_script(value):
        value = _cjk_in_markup(value, _STYLE_BY_NAME[style].fontName == FONT_BOLD)
    bold = _bold_run(value, style)
    return bold if bold is not None else _parsed(value, style)


# Markup of a bold run, then perhaps a plain run after a space: each use's heading
# in an agreement ("<b>1. Product</b> (rule ...)"), a party's role. The runs hold
# no tag and no entity, so the parser would give exactly one fragment each.
_BOLD_RUN = re.compile(r"<b>([^<>&\s](?:[^<>&]*[^<>&\s])?)</b>((?: [^<>&\s][^<>&]*)?)")

# The fragments reportlab's parser makes for "<b>x</b>" and "<b>x</b> y", by style.
_RUN_FRAGMENTS: dict[tuple[str, int], list[ParaFrag]] = {}


def _run_fragments(style: str, runs: int) -> list[ParaFrag]:
    fragments = _RUN_FRAGMENTS.get((style, runs))
    if fragments is None:
        sample = "<b>x</b>" if runs == 1 else "<b>x</b> y"
        fragments = _RUN_FRAGMENTS[style, runs] = Paragraph(sample, STYLES[style]).frags
    return fragments


def _bold_run(value: str, style: str) -> Paragraph | None:
    """The paragraph the parser makes of `<b>A</b>` or `<b>A</b> B` (plain text A
    and B), without the parser: the same fragments, cloned with the texts. One
    bold run is a plain paragraph in the bold face; a bold run and a plain one
    that fit on one line are drawn by `_RunsLine`. Else None: the parser's."""
    cleaned = _clean(value)
    found = _BOLD_RUN.fullmatch(cleaned)
    if found is None or "  " in cleaned:
        return None
    bold, rest = found.groups()
    if not rest:
        fragment = _clone(_run_fragments(style, 1)[0], text=bold)
        paragraph = _Paragraph(cleaned, STYLES[style], frags=[fragment])
        paragraph._plain_text = True
        return paragraph
    first, second = _run_fragments(style, 2)
    fragments = [_clone(first, text=bold), _clone(second, text=rest)]
    return _RunsLine(cleaned, STYLES[style], frags=fragments)


# reportlab's default left and right padding of a table cell, which our tables keep.
_CELL_PADDING = 6


def _cell(value: object, style: str, width: float) -> Any:
    """A table cell of plain text: the text itself when it fits on one line,
    drawn by the table in the style's font; else a paragraph that wraps it.

    A string is drawn where a one-line paragraph of the same style draws it
    (the table's font, size, leading and colour are the Cell style's, so the
    row's height and the baseline are the same), without the paragraph's
    layout; an empty cell is an empty list of flowables, which like an empty
    paragraph has no height and draws nothing. Text with CJK characters is a
    paragraph, which draws them in their CID fonts.
    """
    cleaned = _clean(str(value))
    if not cleaned:
        return []
    register_fonts()  # the cell is measured here, before the document is built
    font = _STYLE_BY_NAME[style]
    fits = width - 2 * _CELL_PADDING - 0.01
    if (
        "\xa0" not in cleaned
        and not has_other_script(cleaned)  # drawn by a paragraph, in the CID or Noto fonts
        and pdfmetrics.stringWidth(joined(cleaned), font.fontName, font.fontSize) < fits
        # Right to left in a left-aligned column: a paragraph, aligned right (round 55).
        and not (font.alignment == TA_LEFT and has_rtl(cleaned) and _base_direction(cleaned) == "R")
    ):
        return displayed(cleaned)  # Hebrew and Arabic in display order, else as it is
    return para(value, style)


def table(
    rows: Sequence[Sequence[Any]],
    col_widths: Sequence[float],
    *,
    header: bool = True,
    right_columns: Sequence[int] = (),
    total_rows: int = 0,
    small: bool = False,
) -> Table:
    """A ruled table; string cells are drawn on one line, or wrapped as paragraphs.
    `small`: in 7 points rather than 8.5 (the `CellSmall` styles), for a table of
    many amount columns whose figures must each stay on one line.

    A figure is never broken (round 54): when a string in a right-aligned column
    is wider than its column, the columns are widened to their widest figure,
    taking the width from the others' room (`_fitted_widths`), in 7 points if
    8.5 cannot hold them; a table whose figures fit keeps `col_widths`."""
    # The figures are measured before any cell is made: a table of plain strings built
    # first in a process measured in a font not yet registered (KeyError).
    register_fonts()
    col_widths, small = _fitted_widths(rows, col_widths, header, right_columns, small)
    cells = []
    for index, row in enumerate(rows):
        line = []
        for column, cell in enumerate(row):
            if isinstance(cell, Flowable) or (
                isinstance(cell, list) and all(isinstance(f, Flowable) for f in cell)
            ):
                line.append(cell)  # flowables, or a list of them, stack in the cell
                continue
            line.append(
                _cell(
                    cell,
                    _cell_style(index, column, header, right_columns, small=small),
                    col_widths[column],
                )
            )
        cells.append(line)
    commands = _table_commands(header, tuple(right_columns), total_rows, small)
    shape = (len(cells), len(col_widths), header, tuple(right_columns), total_rows, small)
    result = _RuledTable(
        cells,
        colWidths=list(col_widths),
        repeatRows=1 if header else 0,
        cellStyles=_cell_styles(shape, commands),
    )
    # The rules and the header's background; the cells' fonts, sizes, colours,
    # alignment and padding are in their styles already.
    result.setStyle(TableStyle([c for c in commands if c[0] in _RULING]))
    return result


def _string_width(value: str, style: str) -> float:
    font = _STYLE_BY_NAME[style]
    if value.isascii():
        return pdfmetrics.stringWidth(value, font.fontName, font.fontSize)
    return sum(
        pdfmetrics.stringWidth(run, run_font or font.fontName, font.fontSize)
        for run_font, run in font_runs(value)
    )


def _column_needs(
    rows: Sequence[Sequence[Any]],
    col_widths: Sequence[float],
    header: bool,
    right_columns: Sequence[int],
    small: bool,
) -> tuple[list[float], set[int]]:
    """The least width each column takes, and the columns of figures: a right-
    aligned column (amounts) or one with a whole number (a line's number) takes
    its widest figure whole; any other, and a header, its longest word, but no
    more than the text column's width (a word longer than that is split)."""
    register_fonts()  # measured here, before the document is built (as `_cell`)
    needs = [0.0] * len(col_widths)
    figures = set(right_columns)
    for index, row in enumerate(rows):
        body = bool(index or not header)
        for column, cell in enumerate(row):
            if not isinstance(cell, str | int | float) or not str(cell).strip():
                continue
            style = _cell_style(index, column, header, right_columns, small=small)
            value = _clean(str(cell))
            if body and value.isdigit():
                figures.add(column)
            # A figure whole; a header's or a text's words may wrap, each whole.
            words = [value] if body and column in right_columns else value.split()
            widest = max(_string_width(word, style) for word in words)
            needs[column] = max(needs[column], widest + 2 * _CELL_PADDING + 0.02)
    return [
        need if column in figures else min(need, width)
        for column, (need, width) in enumerate(zip(needs, col_widths, strict=True))
    ], figures


def _a_figure_too_wide(
    rows: Sequence[Sequence[Any]],
    col_widths: Sequence[float],
    header: bool,
    right_columns: Sequence[int],
    small: bool,
) -> bool:
    """Whether a string of a right-aligned column, or a whole number in another,
    is wider than its column: `_column_needs`'s test alone, for the tables whose
    figures fit."""
    for index, row in enumerate(rows[1:] if header else rows, start=1 if header else 0):
        for column, cell in enumerate(row):
            if not isinstance(cell, str | int | float):
                continue
            value = str(cell)
            if not value or (column not in right_columns and not value.isdigit()):
                continue
            style = _cell_style(index, column, header, right_columns, small=small)
            if _string_width(value, style) + 2 * _CELL_PADDING + 0.02 > col_widths[column]:
                return True
    return False


def _fitted_widths(
    rows: Sequence[Sequence[Any]],
    col_widths: Sequence[float],
    header: bool,
    right_columns: Sequence[int],
    small: bool,
) -> tuple[Sequence[float], bool]:
    """`col_widths` when every figure fits its column; else the figures' columns
    widened to their widest figure and the others (figures' columns too) narrowed
    in proportion to their room above their longest word or widest figure, in 8.5
    points if that holds them, else in 7 (and in 7 as far as the room goes when
    even that cannot)."""
    if not _a_figure_too_wide(rows, col_widths, header, right_columns, small):
        return col_widths, small  # every table but a few: measured no further
    for size_small in (small, True) if not small else (True,):
        needs, figures = _column_needs(rows, col_widths, header, right_columns, size_small)
        short = sum(
            max(0.0, needs[column] - col_widths[column])
            for column in figures
            if column < len(col_widths)
        )
        if not short:
            return col_widths, size_small
        room = [max(0.0, width - need) for width, need in zip(col_widths, needs, strict=True)]
        spare = sum(room)
        if spare >= short or size_small:
            share = min(1.0, short / spare) if spare else 0.0
            grow = min(1.0, spare / short)
            return [
                width + (needs[column] - width) * grow
                if column in figures and needs[column] > width
                else width - room[column] * share
                for column, width in enumerate(col_widths)
            ], size_small
    return col_widths, small


def _table_commands(
    header: bool, right_columns: tuple[int, ...], total_rows: int, small: bool = False
) -> list[tuple[Any, ...]]:
    """The style of every table of ours."""
    cell = "CellSmall" if small else "Cell"
    body = STYLES[cell]
    commands: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, LINE),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), _CELL_PADDING),
        # Plain-text cells are drawn as the Cell styles' paragraphs would be.
        ("FONTNAME", (0, 0), (-1, -1), body.fontName),
        ("FONTSIZE", (0, 0), (-1, -1), body.fontSize),
        ("LEADING", (0, 0), (-1, -1), body.leading),
        ("TEXTCOLOR", (0, 0), (-1, -1), body.textColor),
    ]
    if header:
        commands.append(("BACKGROUND", (0, 0), (-1, 0), WASH))
        commands.append(("FONTNAME", (0, 0), (-1, 0), STYLES[f"{cell}Bold"].fontName))
    for column in right_columns:
        commands.append(("ALIGN", (column, 0), (column, -1), "RIGHT"))
        commands.append(("FONTNAME", (column, 0), (column, -1), STYLES[f"{cell}Right"].fontName))
    if total_rows:
        commands.append(("LINEABOVE", (0, -total_rows), (-1, -total_rows), 0.8, INK))
    return commands


class _RuledTable(Table):
    """A table of ours, measured and drawn by our code when it has only what
    `table()` gives it: fixed column widths, no spans, cells of one-line
    strings, paragraphs or lists of flowables aligned left or right at the top,
    plain backgrounds and single solid rules. reportlab's `Table` does the same
    through general machinery (spans, row splitting, gradients, corners,
    callbacks) for every cell; this writes the same operators through the same
    canvas methods in reportlab's order, so the bytes are reportlab's. Splitting
    is reportlab's (its parts are tables of this class, with their row heights
    given), and anything else is measured or drawn by reportlab.
    """

    def _calc(self, availWidth: float, availHeight: float) -> None:
        """reportlab's measuring (`wrap` and `split` call it), for a plain table ours."""
        fields: Any = self
        if not self._measures_plainly():
            super()._calc(availWidth, availHeight)  # type: ignore[misc]
            return
        widths = list(fields._argW)
        self._measure_rows(widths)
        if not getattr(fields, "_width_calculated_once", None):  # reportlab's `_calc_width`
            fields._colWidths = widths
            fields._colpositions = list(itertools.accumulate(widths, initial=0))
            fields._width = fields._colpositions[-1]
            fields._width_calculated_once = 1

    def _measures_plainly(self) -> bool:
        """No spans, no rows kept together, no least row heights, fixed column
        widths, and reportlab's default of ignoring a cell too wide."""
        fields: Any = self
        return (
            not (fields._spanCmds or fields._nosplitCmds or fields._minRowHeights)
            and rl_config.allowTableBoundsErrors & 5 == 1
            and all(type(width) in (int, float) for width in fields._argW)
        )

    def _measure_rows(self, widths: list[float]) -> None:
        """reportlab's `_calc_height` for a table without spans: each row as
        high as its highest cell, and the rows' positions summed as it sums them."""
        fields: Any = self
        heights = fields._argH
        if None in heights:
            heights = fields._rowHeights = list(heights)
            for row, height in enumerate(heights):
                if height is None:
                    heights[row] = self._row_height(row, widths)
        positions = []
        total = carry = 0
        for height in reversed(heights):  # reportlab's compensated sum, from the foot
            positions.append(total)
            step = height - carry
            added = total + step
            carry = (added - total) - step
            total = added
        positions.append(total)
        positions.reverse()
        fields._rowpositions = positions
        fields._height = total
        fields._hmax = len(heights)

    def _row_height(self, row: int, widths: list[float]) -> float:
        fields: Any = self
        values = fields._cellvalues[row]
        canvas = getattr(self, "canv", None)
        highest: float = 0
        for column, (value, style, width) in enumerate(
            zip(values, fields._cellStyles[row], widths, strict=False)
        ):
            if isinstance(value, (tuple, list, Flowable)):
                value = values[column] = fields._cellListProcess(value, width, None)
                if canvas:  # the cell's font while its flowables are measured, as reportlab sets it
                    saved = canvas._fontname, canvas._fontsize, canvas._leading
                    canvas._fontname, canvas._fontsize = style.fontname, style.fontsize
                    canvas._leading = style.leading or 1.2 * style.fontsize
                height = fields._listCellGeom(value, width, style)[1]  # a cell too wide is let be
                if canvas:
                    canvas._fontname, canvas._fontsize, canvas._leading = saved
            else:
                lines = ((value is not None and str(value)) or "").count("\n") + 1
                height = (style.leading or 1.2 * style.fontsize) * lines
            height += style.bottomPadding + style.topPadding
            if height > highest:
                highest = height
        return highest

    def draw(self) -> None:
        if not self._draws_plainly():
            super().draw()
            return
        fields: Any = self
        canvas: Any = self.canv
        canvas.saveState()
        fields._curweight = fields._curcolor = fields._curcellstyle = None
        self._draw_backgrounds(canvas)
        columns = fields._colpositions[:-1]
        current = None
        for values, styles, y, height in zip(
            fields._cellvalues,
            fields._cellStyles,
            fields._rowpositions[1:],
            fields._rowHeights,
            strict=False,
        ):
            for value, style, x, width in zip(
                values, styles, columns, fields._colWidths, strict=False
            ):
                current = self._set_cell_style(canvas, style, current)
                self._draw_cell(canvas, value, style, x, y, width, height)
        fields._curcellstyle = current
        self._draw_rules(canvas)
        canvas.restoreState()

    def _draws_plainly(self) -> bool:
        fields: Any = self
        return (
            not (
                fields._spanCmds
                or fields._renderCB
                or fields._shadow
                or getattr(fields, "_cornerRadii", None)
                or getattr(fields, "_roundingRectDef", None)
                or getattr(fields, "_hBlocks", None)
            )
            and all(
                command[0] == "BACKGROUND"
                and isinstance(command[3], colors.Color)
                and not isinstance(command[1][1], str)
                for command in fields._bkgrndcmds
            )
            and all(
                command[0] in _RULES
                and command[5:9] == (1, None, 1, 1)
                and not isinstance(command[1][1], str)
                for command in fields._linecmds
            )
            and all(
                style.alignment in ("LEFT", "RIGHT")
                and style.valign == "TOP"
                and not (style.href or style.destination or style.direction or style.shaping)
                for styles in fields._cellStyles
                for style in styles
            )
        )

    def _draw_backgrounds(self, canvas: Any) -> None:
        """reportlab's `_drawBkgrnd` for plain colours over a range of cells."""
        fields: Any = self
        rows, columns = fields._nrows, fields._ncols
        xs, ys = fields._colpositions, fields._rowpositions
        for _, (first_column, first_row), (last_column, last_row), colour in fields._bkgrndcmds:
            first_column += columns if first_column < 0 else 0
            last_column += columns if last_column < 0 else 0
            first_row += rows if first_row < 0 else 0
            last_row += rows if last_row < 0 else 0
            x0, y0 = xs[first_column], ys[first_row]
            x1, y1 = xs[min(last_column + 1, columns)], ys[min(last_row + 1, rows)]
            canvas.setFillColor(colour)
            canvas.rect(x0, y0, x1 - x0, y1 - y0, stroke=0, fill=1)

    @staticmethod
    def _set_cell_style(canvas: Any, style: CellStyle, current: CellStyle | None) -> CellStyle:
        """reportlab's fill colour and font for the cell, set when they change."""
        if current is style:
            return style
        if current is None or (style.color is not current.color and style.color != current.color):
            canvas.setFillColor(style.color)
        if (
            current is None
            or style.leading != current.leading
            or style.fontname != current.fontname
            or style.fontsize != current.fontsize
        ):
            canvas.setFont(style.fontname, style.fontsize, style.leading)
        return style

    def _draw_cell(
        self, canvas: Any, value: Any, style: Any, x: float, y: float, width: float, height: float
    ) -> None:
        """reportlab's `_drawCell` for a cell at the top, aligned left or right."""
        right = style.alignment == "RIGHT"
        if isinstance(value, (tuple, list, Flowable)):
            if not isinstance(value, (tuple, list)):
                value = (value,)
            sizes, heights = self._cell_sizes(value, width, height, style)
            top = y + height - style.topPadding
            if value:
                top += value[0].getSpaceBefore()
            for flowable, drawn_width, drawn_height in zip(value, sizes, heights, strict=False):
                left = (
                    x + width - style.rightPadding - drawn_width if right else x + style.leftPadding
                )
                top -= flowable.getSpaceBefore() + drawn_height
                flowable.drawOn(canvas, left, top)
                top -= flowable.getSpaceAfter()
            return
        draw = canvas.drawRightString if right else canvas.drawString
        left = x + width - style.rightPadding if right else x + style.leftPadding
        top = y + height - style.topPadding - style.fontsize
        for line in str(value).split("\n"):
            draw(left, top, line)
            top -= style.leading

    def _cell_sizes(
        self, value: Sequence[Any], width: float, height: float, style: Any
    ) -> tuple[list[float], list[float]]:
        """The sizes of a cell's flowables as reportlab measures them again to
        draw them: for paragraphs measured at the cell's width already, the sizes
        their `wrap` would return at once (`wrap_plainly`), without the call."""
        available = width - style.leftPadding - style.rightPadding
        if all(
            type(flowable) is _Paragraph
            and flowable._wrapped_width == available
            and "blPara" in flowable.__dict__
            for flowable in value
        ):
            return [flowable.width for flowable in value], [flowable.height for flowable in value]
        sizes: list[float] = []
        heights: list[float] = []
        fields: Any = self
        fields._listCellGeom(value, width, style, W=sizes, H=heights, aH=height)
        return sizes, heights

    def _draw_rules(self, canvas: Any) -> None:
        """reportlab's `_drawLines` for solid single rules below or above rows."""
        fields: Any = self
        canvas.saveState()
        if fields._linecmds:
            canvas.setLineCap(1)
            canvas.setLineJoin(1)
        xs, ys = fields._colpositions, fields._rowpositions
        for operator, start, end, weight, colour, *_ in fields._linecmds:
            first_column, last_column, first_row, last_row = self.normCellRange(
                start[0], end[0], start[1], end[1]
            )
            if operator == "LINEBELOW":
                first_row, last_row = first_row + 1, last_row + 1
            columns = xs[first_column : last_column + 2]
            rows = ys[first_row : last_row + 1]
            if len(columns) <= 1 or len(rows) < 1:
                continue
            if colour and colour != fields._curcolor:
                canvas.setStrokeColor(colour)
                fields._curcolor = colour
            if weight and weight != fields._curweight:
                canvas.setLineWidth(weight)
                fields._curweight = weight
            for y in rows:
                canvas.line(columns[0], y, columns[-1], y)
        canvas.restoreState()
        fields._curcolor = None


# The rules our tables draw (`_RuledTable`): a line below or above a range of rows.
_RULES = ("LINEBELOW", "LINEABOVE")


# The commands reportlab keeps as they are (drawn in their order); every other
# command of ours sets attributes of the cells' styles.
_RULING = ("LINEBELOW", "LINEABOVE", "BACKGROUND")

# Each cell's style as reportlab's `setStyle` leaves it, by the table's shape
# (rows, columns, header, right-aligned columns, total rows): setStyle sets every
# attribute of every cell one command at a time, a tenth of a millisecond a
# table of ten cells. Emptied when it grows past a bound.
_CELL_STYLES: dict[tuple[Any, ...], list[list[dict[str, Any]]]] = {}
_CELL_STYLES_BOUND = 256


def _cell_styles(shape: tuple[Any, ...], commands: list[tuple[Any, ...]]) -> list[list[CellStyle]]:
    """A fresh style for each cell (reportlab changes them in place when it
    splits a table), with the attributes `setStyle(commands)` gives it."""
    known = _CELL_STYLES.get(shape)
    if known is None:
        rows, columns = shape[:2]
        probe = Table([[""] * columns for _ in range(rows)])
        probe.setStyle(TableStyle([c for c in commands if c[0] not in _RULING]))
        if len(_CELL_STYLES) >= _CELL_STYLES_BOUND:
            _CELL_STYLES.clear()
        known = _CELL_STYLES[shape] = [
            [dict(style.__dict__) for style in row]
            for row in probe._cellStyles  # type: ignore[attr-defined]
        ]
    return [[_cell_style_of(attributes) for attributes in row] for row in known]


def _cell_style_of(attributes: dict[str, Any]) -> CellStyle:
    style = CellStyle(attributes["name"])
    style.__dict__.update(attributes)
    return style


def _cell_style(
    row: int, column: int, header: bool, right_columns: Sequence[int], *, small: bool = False
) -> str:
    cell = "CellSmall" if small else "Cell"
    if column in right_columns:
        return f"{cell}Right"  # its header too is not bold
    return f"{cell}Bold" if header and row == 0 else cell


@dataclass(frozen=True)
class PageFurniture:
    """The running header and footer of a document."""

    reference: str  # e.g. "Agreement CPT-2027-000042"
    issuer: str = "CPT Licensing Office"
    footer_note: str = ""


_FURNITURE_SIZE = 7.5

# A line's font size and leading operators, by the two (a handful: our styles').
_SIZES: dict[tuple[float, float], str] = {}


# The least space between a furniture line's left text and its right one (points).
_FURNITURE_GAP = 12.0
_ELLIPSIS = "\u2026"


def _furniture_width(value: str) -> float:
    return sum(
        pdfmetrics.stringWidth(run, font or FONT, _FURNITURE_SIZE) for font, run in font_runs(value)
    )


def _shortened(value: str, room: float) -> str:
    """`value` when it fits in `room` points of the furniture's size; else its
    longest beginning that fits with an ellipsis after it."""
    if _furniture_width(value) <= room:
        return value
    low, high = 0, len(value)
    while low < high:  # the longest beginning that fits with the ellipsis
        middle = (low + high + 1) // 2
        if _furniture_width(value[:middle].rstrip() + _ELLIPSIS) <= room:
            low = middle
        else:
            high = middle - 1
    return value[:low].rstrip() + _ELLIPSIS


@functools.lru_cache(maxsize=64)
def _fitted_furniture(furniture: PageFurniture, pages: int, line: float) -> tuple[str, str, str]:
    """The issuer, the reference and the footer's note as each page draws them
    (round 54): as given when each line's two texts fit it with room between; else
    the reference keeps at least half the line and the issuer what is left, and
    the note what "Page N of M" leaves (its widest, at N = M), each shortened with
    an ellipsis, so no text runs into another or off the page."""
    # Arabic measured as drawn, joined (`_NumberedCanvas._draw` reorders each line).
    issuer, reference, note = map(
        joined, (furniture.issuer, furniture.reference, furniture.footer_note)
    )
    issuer_width = _furniture_width(issuer)
    if issuer_width + _furniture_width(reference) + _FURNITURE_GAP > line:
        reference = _shortened(reference, max(line / 2, line - issuer_width - _FURNITURE_GAP))
        issuer = _shortened(issuer, line - _furniture_width(reference) - _FURNITURE_GAP)
    number = _furniture_width(f"Page {pages} of {pages}")
    return issuer, reference, _shortened(note, line - number - _FURNITURE_GAP) if note else note


class _TextObject(PDFTextObject):
    """reportlab's text object, which gives each word of a shaped run whose glyphs
    would copy out as other text than typed (Devanagari's vowel sign i drawn before
    its consonant, Bengali's প্র) the text typed as its ActualText (round 56): a
    marked-content span around the word's operators, which viewers' copy, search and
    text extraction read instead of the glyphs' ToUnicode text. Every other text is
    reportlab's, operator for operator."""

    _fontname: str  # reportlab's members, which its stubs leave out

    def _formatText(self, text: str) -> str:
        reportlab_format: Callable[[str], str] = super()._formatText  # type: ignore[misc]
        font = self._fontname
        pieces = _actual_text(font, text) if font in _SHAPED_FONT_NAMES else []
        if not pieces:
            return reportlab_format(text)
        code = []
        for piece, typed in pieces:
            drawn = reportlab_format(piece)
            if typed is not None:
                actual = (b"\xfe\xff" + typed.encode("utf-16-be")).hex().upper()
                drawn = f"/Span <</ActualText <{actual}>>> BDC {drawn} EMC"
            code.append(drawn)
        return " ".join(code)


_SHAPED_FONT_NAMES = frozenset(_SHAPED_FACES) | frozenset(_SHAPED_FACES.values())


class _NumberedCanvas(Canvas):
    """Defers page output to the end so that every page can say "Page N of M"."""

    furniture: PageFurniture
    # reportlab's own members, which its stubs leave out as private.
    _pagesize: tuple[float, float]
    _startPage: Callable[[], None]
    _fontname: str
    _fontsize: float
    _leading: float
    _doc: Any
    _code: list[str]
    _escape: Callable[[bytes], str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saved_pages: list[dict[str, Any]] = []
        self._first_subset_names: dict[str, str] = {}  # `_first_subset_name`
        # The furniture's lines as `_draw_line` wrote them, by where and in what
        # font (`_draw`): the same on every page, so written once a document.
        self._furniture_lines: dict[tuple[Any, ...], str] = {}
        self._last_line: str | None = None  # the operators `_draw_line` last wrote

    def beginText(self, x: float = 0, y: float = 0, direction: Any = None) -> PDFTextObject:
        """reportlab's text object, giving shaped words their typed text (`_TextObject`)."""
        return _TextObject(self, x, y, direction=direction)

    def showPage(self) -> None:  # reportlab names it
        self._saved_pages.append(dict(self.__dict__))
        self._startPage()

    # A line of text (a table's plain cells, the running header and footer):
    # reportlab builds a text object for it, a quarter of a table's drawing.
    def drawString(self, x: float, y: float, text: str, *args: Any, **kwargs: Any) -> None:
        if args or kwargs or not self._draw_line(x, y, text):
            super().drawString(x, y, text, *args, **kwargs)

    def drawRightString(self, x: float, y: float, text: str, *args: Any, **kwargs: Any) -> None:
        if args or kwargs:
            super().drawRightString(x, y, text, *args, **kwargs)
            return
        # The width as reportlab's drawRightString measures it.
        measure: Any = bidiShapedText  # its stubs want a str direction and an int size
        text, width = measure(text, None, fontName=self._fontname, fontSize=self._fontsize)
        if not self._draw_line(x - width, y, text):
            super().drawRightString(x, y, text)

    def line(self, x1: float, y1: float, x2: float, y2: float) -> None:
        """reportlab's `line` (the tables' rules, the furniture's), its numbers
        formatted once per process (`_fp`)."""
        self._code.append(f"n {_fp(x1, y1)} m {_fp(x2, y2)} l S")

    def _draw_line(self, x: float, y: float, text: str) -> bool:
        """`text` from (x, y) with the operators reportlab's `drawString` writes
        (a text object: its origin, the font, the text, `T*`), when the font is
        ours and every character of the text has its code in the document's
        first subset; else False, and reportlab draws it (assigning codes)."""
        font = pdfmetrics.getFont(self._fontname)
        if not (text and isinstance(font, _EmbeddedFont) and self.bottomup):
            return False
        document = self._doc
        state: Any = font.state.get(document)
        known: frozenset[str] | None = getattr(state, "known_characters", None)
        if known is None or not known.issuperset(text):
            return False
        mapped = self._escape(text.translate(state.first_subset_codes).encode("latin-1"))
        sizes = (self._fontsize, self._leading)
        size_and_leading = _SIZES.get(sizes)
        if size_and_leading is None:
            if len(_SIZES) >= _FILLS_BOUND:
                _SIZES.clear()
            size_and_leading = _SIZES[sizes] = f"{fp_str(sizes[0])} Tf {fp_str(sizes[1])} TL"
        line = self._last_line = (
            f"BT 1 0 0 1 {_fp(x, y)} Tm {_first_subset_name(self, font)} "
            f"{size_and_leading} ({mapped}) Tj T* ET"
        )
        self._code.append(line)
        return True

    def save(self) -> None:
        total = len(self._saved_pages)
        for number, state in enumerate(self._saved_pages, start=1):
            self.__dict__.update(state)
            self._draw_furniture(number, total)
            super().showPage()
        document = self._doc
        for page in document.Pages.pages:  # reportlab's pages or ours: one compression
            if page.compression and page.stream and not page.Contents:
                page.Contents = _page_contents(page.stream)
        objects = document.idToObject
        for thing in (*document.Pages.pages, document.Catalog, document.Pages, *objects.values()):
            if type(thing) in _FORMATTED_ONCE and (
                type(thing) is not pdfdoc.PDFDictionary or thing is objects["BasicFonts"]
            ):
                thing.__class__ = _FORMATTED_ONCE[type(thing)]
        if type(document) is pdfdoc.PDFDocument:
            document.__class__ = _Document
        super().save()

    def _draw_furniture(self, number: int, total: int) -> None:
        width, height = self._pagesize
        furniture = self.furniture
        issuer, reference, footer_note = _fitted_furniture(furniture, total, width - 1.5 * inch)
        self.setFont(FONT, _FURNITURE_SIZE)
        self.setFillColor(MUTED)
        self._draw(0.75 * inch, height - 0.5 * inch, issuer)
        self._draw(width - 0.75 * inch, height - 0.5 * inch, reference, right=True)
        self.setStrokeColor(LINE)
        self.line(0.75 * inch, height - 0.56 * inch, width - 0.75 * inch, height - 0.56 * inch)
        self.line(0.75 * inch, 0.62 * inch, width - 0.75 * inch, 0.62 * inch)
        if footer_note:
            self._draw(0.75 * inch, 0.45 * inch, footer_note)
        self.drawRightString(width - 0.75 * inch, 0.45 * inch, f"Page {number} of {total}")

    def _draw(self, x: float, y: float, value: str, *, right: bool = False) -> None:
        """A line of furniture from `x` (or ending at it), its CJK runs in their
        CID fonts; text without CJK is drawn in one call, as it always was.

        The issuer, the reference and the footer's note are the same on every
        page: a line `_draw_line` wrote is kept by the canvas and written again on
        the pages after (its codes, subset and width are the document's for its
        life), so only the page number is measured and mapped a page. A line
        reportlab drew (its characters not yet in the first subset) is not kept.
        Hebrew and Arabic are drawn in display order (`displayed`)."""
        value = displayed(value)
        if not has_other_script(value):
            key = (x, y, value, right, self._fontname, self._fontsize, self._leading)
            kept = self._furniture_lines.get(key)
            if kept is not None:
                self._code.append(kept)
                return
            code = self._code
            before = len(code)
            self._last_line = None
            (self.drawRightString if right else self.drawString)(x, y, value)
            line = self._last_line
            if line is not None and len(code) == before + 1 and code[-1] is line:
                self._furniture_lines[key] = line
            return
        runs = [(font or FONT, run) for font, run in font_runs(value)]
        if right:
            x -= sum(pdfmetrics.stringWidth(run, font, _FURNITURE_SIZE) for font, run in runs)
        line = self.beginText(x, y)  # one text object: the runs read back as one line
        for font, run in runs:
            line.setFont(font, _FURNITURE_SIZE)
            line.textOut(run)
        self.drawText(line)


def build(
    story: Sequence[Flowable],
    furniture: PageFurniture,
    *,
    title: str,
    subject: str = "",
) -> bytes:
    """Lay out `story` on Letter pages with the running header and footer.

    A story of paragraphs, tables, spacers, conditional page breaks, charts
    (`Drawing`) and KeepTogether (every document of ours) is placed by our own
    loop (`_Layout`); anything else by reportlab's frames. Both give the same
    bytes for the same story, but where a heading would end a page alone or a
    table row is taller than a page (reportlab's frames fail there)."""
    register_fonts()
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=LETTER,
        leftMargin=_LEFT_MARGIN,
        rightMargin=_RIGHT_MARGIN,
        topMargin=_TOP_MARGIN,
        bottomMargin=_BOTTOM_MARGIN,
        title=title,
        author=furniture.issuer,
        subject=subject,
        creator="CPT licensing and royalty service",
        invariant=True,
        # The canvas's first font: reportlab's is Helvetica (`rl_config.canvas_basefontname`),
        # which it names in every document without embedding it (pdffonts59). Ours is embedded
        # and, being a TrueType font, is set by each line that draws, never by the preamble.
        initialFontName=FONT,
    )

    def numbered_canvas(filename: str | IO[bytes], /, **options: Any) -> Canvas:
        canvas = _NumberedCanvas(filename, **options)
        canvas.furniture = furniture
        return canvas

    if _LAYOUT_ENABLED and all(map(_laid_out_by_us, story)):
        # reportlab's own canvas, made with the document's settings and info.
        layout_document: Any = document
        layout_document._calc()
        canvas = layout_document._makeCanvas(canvasmaker=numbered_canvas)
        _Layout(canvas).run(story)
        canvas.save()
    else:
        document.build(list(story), canvasmaker=numbered_canvas)
    return buffer.getvalue()


# Off only to compare our layout with reportlab's (tests, bench/pdfs.py).
_LAYOUT_ENABLED = True


def _laid_out_by_us(flowable: Any) -> bool:
    kind = type(flowable)
    if kind is KeepTogether or kind is Closing:
        return all(map(_laid_out_by_us, flowable._content))
    return kind in (
        _Paragraph,
        _RunsLine,
        Table,
        _RuledTable,
        Spacer,
        CondPageBreak,
    ) or _is_drawing(kind)


def _is_drawing(kind: type) -> bool:
    """A chart (reportlab's `Drawing`, a block placed whole like a one-row table).
    Looked up, not imported: a process that draws no chart never loads the module
    (2 ms), and a story can hold a Drawing only once it is loaded."""
    shapes = sys.modules.get("reportlab.graphics.shapes")
    return shapes is not None and kind is shapes.Drawing


CONTENT_WIDTH = LETTER[0] - 1.5 * inch


# The page's frame, as reportlab's SimpleDocTemplate makes it from our margins
# (the same arithmetic, so every position is the same float).
_LEFT_MARGIN = 0.75 * inch
_RIGHT_MARGIN = 0.75 * inch
_TOP_MARGIN = 0.8 * inch
_BOTTOM_MARGIN = 0.85 * inch
_FRAME_PADDING = 6


# The paragraph styles that head what follows them: never left alone at a page's foot.
_HEADINGS = frozenset({"Heading"})


class LayoutError(Exception):
    """A flowable that does not fit on an empty page (reportlab's LayoutError)."""


class Closing(KeepTogether):
    """A document's closing words, after its last table (an invoice's *How to pay*, its
    late fee terms and its copyright notice): kept on one page, and with the table's
    last `rows` rows (an invoice's last line and its totals) on that page too (round
    62: an invoice whose lines ran just past a page left its second page holding the
    notice alone, or split its totals between the pages). Our loop begins the next page
    with those rows (the table's header repeated over them) where the table would
    otherwise leave the closing to begin a page alone or part its last rows;
    reportlab's frames keep the closing together without the rows. Where the rows and
    the closing do not fit on one empty page, they flow as they did."""

    def __init__(self, flowables: Sequence[Flowable], *, rows: int) -> None:
        super().__init__(list(flowables))
        self.rows = rows


class _FrameBreak:
    """The page break a CondPageBreak or a KeepTogether asks for."""


_FRAME_BREAK = _FrameBreak()


class _Layout:
    """Our own layout loop: the story placed on the canvas page by page.

    reportlab's SimpleDocTemplate and Frame do this for any flowable, through a
    doctemplate, page templates, generated content, progress callbacks and a
    deep copy of the frame for every KeepTogether; our documents hold only
    paragraphs, tables, spacers, charts, conditional page breaks and KeepTogether.
    This loop keeps the frame's rules for exactly those (space before and
    after, overlapping where two meet; a flowable that does not fit is split
    or moved to the next page; a conditional page break; a KeepTogether that
    does not fit where it starts begins a page), with the same arithmetic, so
    every flowable lands where the frame put it and the bytes are the same
    (tests/unit/test_pdf_layout.py holds it to reportlab's own build).
    """

    def __init__(self, canvas: Canvas) -> None:
        width, height = LETTER
        frame_width = (width - _RIGHT_MARGIN) - _LEFT_MARGIN
        frame_height = (height - _TOP_MARGIN) - _BOTTOM_MARGIN
        frame_top = _BOTTOM_MARGIN + frame_height
        self.canvas = canvas
        self.x = _LEFT_MARGIN + _FRAME_PADDING
        self.width = (_LEFT_MARGIN + frame_width) - _LEFT_MARGIN - 2 * _FRAME_PADDING
        self.page_height = frame_top - (_BOTTOM_MARGIN + _FRAME_PADDING) - _FRAME_PADDING
        self.top = frame_top - _FRAME_PADDING
        self.bottom = _BOTTOM_MARGIN + _FRAME_PADDING
        self.page_open = False
        self.y = self.top
        self.at_top = True
        self.space_after: float = 0

    def run(self, story: Sequence[Any]) -> None:
        pending = list(story)
        pending.reverse()  # popped from the end
        # What was moved whole to a new page once, kept alive so that no other
        # flowable takes its id.
        postponed: dict[int, Any] = {}
        while pending:
            item = pending.pop()
            if not self.page_open:
                self._begin_page()
            if item is _FRAME_BREAK:
                self._end_page()
            elif isinstance(item, CondPageBreak):
                self._conditional_break(item, pending)
            elif isinstance(item, KeepTogether):
                self._keep_together(item, pending)
            elif isinstance(item, Table) and self._carried_with_closing(item, pending):
                pass
            elif self._would_be_stranded(item, pending):
                pending.append(item)
                self._end_page()
            elif not self._place(item):
                self._split_or_move(item, pending, postponed)
        if self.page_open:
            self._end_page()

    def _begin_page(self) -> None:
        self.page_open = True
        self.y = self.top
        self.at_top = True
        self.space_after = 0

    def _end_page(self) -> None:
        if not self.page_open:
            self._begin_page()
        self.canvas.showPage()
        self.page_open = False

    def _space_before(self, flowable: Any) -> float:
        if self.at_top:
            return 0
        return max(float(flowable.getSpaceBefore()) - self.space_after, 0)

    def _conditional_break(self, item: CondPageBreak, pending: list[Any]) -> None:
        """reportlab's CondPageBreak: a page break when less than its height is
        left; drawn (as nothing) where it stands either way."""
        space = self._space_before(item)
        available = self.y - self.bottom - space
        if available <= 0:
            pending.append(item)  # the frame is full: retried on the next page
            self._end_page()
            return
        if available < item.height:
            pending.append(_FRAME_BREAK)
        self._draw(item, self.y - space, 0, 0)

    def _keep_together(self, item: KeepTogether, pending: list[Any]) -> None:
        """Its flowables one after the other, on the next page when they do not
        fit in what is left of this one and this one holds something already."""
        content: list[Any] = item._content  # type: ignore[attr-defined]
        available = self.y - self.bottom - self._space_before(item)
        if available <= 0:
            pending.append(item)
            self._end_page()
            return
        total, first = self._stacked_height(content)
        pending.extend(reversed(content))
        if total > available and not self.at_top:
            pending.append(_FRAME_BREAK)
        elif first > available or total > available:
            pass  # at the top of a page: flows on and splits as it must
        elif not self._place(pending.pop()):
            raise LayoutError(f"{content[0]!r} did not fit where it was measured to fit")

    def _carried_with_closing(self, table: Table, pending: list[Any]) -> bool:
        """Before a `Closing`: whether this page ends before the table's last
        `Closing.rows` rows, which then begin the next page with the closing after
        them (True, done). That is when the table and the closing do not both fit
        here and the table would end this page within those rows or whole (its
        closing left to begin the next page alone). Where the table would break
        before those rows anyway, or they and the closing do not fit on an empty
        page, nothing changes (False)."""
        closing = pending[-1] if pending else None
        if type(closing) is not Closing:
            return False
        space = self._space_before(table)
        available = self.y - self.bottom - space
        if available <= 0:
            return False
        width, height = self._wrap(table, available)
        table._measured_size = (width, height)  # type: ignore[attr-defined]  # placed with it
        after = table.getSpaceAfter()
        closing_height = self._stacked_height(closing._content)[0]  # type: ignore[attr-defined]
        together = height + after + max(closing.getSpaceBefore() - after, 0) + closing_height
        if together <= available + _FUZZ:
            return False  # all of it fits here
        heights: list[float] = table._rowHeights  # type: ignore[attr-defined]
        last = len(heights) - closing.rows  # the first row carried
        header = table.repeatRows
        carried = float(sum(heights[:header]) + sum(heights[last:]))
        if last <= header or carried + after + closing_height > self.page_height + _FUZZ:
            return False  # nothing to leave here, or not on one page either
        fitting, room = 0, available
        for row_height in heights:
            if row_height > room + _FUZZ:
                break
            room -= row_height
            fitting += 1
        if fitting < last:
            return False  # it breaks before the last rows anyway
        del table._measured_size  # type: ignore[attr-defined]
        table.canv = self.canvas
        try:
            parts = table.split(self.width, float(sum(heights[:last])) + _FUZZ)
        finally:
            del table.canv
        if len(parts) != 2:
            return False
        if not self._place(parts[0]):
            raise LayoutError(f"the first part of {table!r} did not fit")
        pending.append(parts[1])
        pending.append(_FRAME_BREAK)
        return True

    def _would_be_stranded(self, item: Any, pending: list[Any]) -> bool:
        """Whether a heading would end this page alone: it fits, but the least
        of what follows it does not (the first two lines of a paragraph, a
        table's header and first row, a KeepTogether whole). Then it begins the
        next page with what it heads. reportlab's frames leave such a heading
        at the foot of the page; this is the one place our layout differs."""
        if self.at_top or type(item) is not _Paragraph or item.style.name not in _HEADINGS:
            return False
        following = next((f for f in reversed(pending) if not isinstance(f, Spacer)), None)
        if following is None or following is _FRAME_BREAK:
            return False
        space = self._space_before(item)
        height = self._wrap(item, self.y - self.bottom - space)[1]
        after = item.getSpaceAfter()
        least = self._least_height(following)
        together = height + max(following.getSpaceBefore() - after, 0) + after + least
        if together > self.page_height + _FUZZ:
            # Not together on an empty page either: moved, the heading would stand
            # alone on a page of its own, so it stays where reportlab put it.
            return False
        fits_alone = self.y - (height + space) >= self.bottom - _FUZZ
        return fits_alone and self.y - (space + together) < self.bottom - _FUZZ

    def _least_height(self, flowable: Any) -> float:
        """The least of `flowable` that can stand at the foot of a page."""
        if isinstance(flowable, KeepTogether):
            return self._stacked_height(flowable._content)[0]  # type: ignore[attr-defined]
        size = self._wrap(flowable, 0xFFFFFFF)
        height = size[1]
        if isinstance(flowable, Table):
            flowable._measured_size = size  # type: ignore[attr-defined]
            rows: list[float] = flowable._rowHeights  # type: ignore[attr-defined]
            return float(sum(rows[: flowable.repeatRows + 1]))
        if isinstance(flowable, Paragraph):
            lines: Any = flowable.__dict__.get("blPara")  # none for a `_RunsLine`'s one line
            if lines is None:
                return float(height)
            return float(min(len(lines.lines), 2) * flowable.style.leading)
        return float(height)

    def _stacked_height(self, content: Sequence[Any]) -> tuple[float, float]:
        """The height of flowables stacked as a frame stacks them (reportlab's
        `_listWrapOn` with merged spaces), and the first one's."""
        height: float = 0
        first: float | None = None
        previous_after: float = 0
        on_top = True
        for flowable in content:
            flowable_height = self._wrap(flowable, 0xFFFFFFF)[1]
            if first is None:
                first = flowable_height
            if flowable_height <= _FUZZ:
                continue
            height += flowable_height
            if not on_top:
                height += max(flowable.getSpaceBefore() - previous_after, 0)
            on_top = False
            previous_after = flowable.getSpaceAfter()
            height += previous_after
        return height - previous_after, first or 0

    def _wrap(self, flowable: Any, available: float) -> tuple[float, float]:
        if type(flowable) is _Paragraph:
            plain = flowable.wrap_plainly(self.width)
            if plain is not None:
                return plain
        if isinstance(flowable, Spacer):
            return flowable.width, flowable.height
        # A table's size depends on the width alone (its rows are measured, not
        # fitted to the height left): one that follows a heading is measured
        # for the heading's sake (`_least_height`), and placed with that size.
        known: tuple[float, float] | None = flowable.__dict__.pop("_measured_size", None)
        if known is not None:
            return known
        flowable.canv = self.canvas
        try:
            size: tuple[float, float] = flowable.wrap(self.width, available)
        finally:
            del flowable.canv
        return size

    def _place(self, flowable: Any) -> bool:
        """The frame's `_add`: the flowable drawn below what is on the page, if it fits."""
        space = self._space_before(flowable)
        available = self.y - self.bottom - space
        if available <= 0:
            return False
        width, height = self._wrap(flowable, available)
        y = self.y - (height + space)
        if y < self.bottom - _FUZZ:
            return False
        after = flowable.getSpaceAfter()
        self._draw(flowable, y, width, after)
        return True

    def _draw(self, flowable: Any, y: float, width: float, after: float) -> None:
        if isinstance(flowable, Spacer):  # the translation reportlab writes for it, drawing nothing
            self.canvas._code += ("q", f"1 0 0 1 {_fp(self.x, y)} cm", "Q")  # type: ignore[attr-defined]
        else:  # a paragraph, a table, or a part of one that was split
            placed: Any = flowable  # reportlab's drawOn takes the spare width, unlike its stubs
            placed.drawOn(self.canvas, self.x, y, _sW=self.width - width)
        y -= after
        self.space_after = after
        if y != self.y:
            self.at_top = False
        self.y = y

    def _split_or_move(self, flowable: Any, pending: list[Any], postponed: dict[int, Any]) -> None:
        """What does not fit: the part that fits here and the rest on, or all of
        it on the next page (once: a flowable higher than a page is an error)."""
        available = self.y - self.bottom - self._space_before(flowable)
        parts: list[Any] = []
        if available > 0:
            flowable.canv = self.canvas
            try:
                parts = flowable.split(self.width, available)
            finally:
                del flowable.canv
        if parts:
            if not self._place(parts[0]):
                raise LayoutError(f"the first part of {flowable!r} did not fit")
            pending.extend(reversed(parts[1:]))
            return
        if id(flowable) in postponed:
            if isinstance(flowable, Table) and not flowable.splitInRow:
                # A row taller than an empty page (a line's working at its length
                # limit): split within the row rather than fail the document. Only
                # here: a row that fits a page is still moved whole, as reportlab does.
                flowable.splitInRow = 1
                pending.append(flowable)
                return
            raise LayoutError(f"{flowable!r} is too large for a page")
        postponed[id(flowable)] = flowable
        pending.append(flowable)
        self._end_page()
