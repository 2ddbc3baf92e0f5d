"""Language detection for short posts, from function words and telltale letters.

No downloaded model: each language has a list of its most frequent short words
(articles, pronouns, auxiliaries, negations, a few very common colloquial words),
and a text scores one point per distinct listed word it contains. Letters that only
some languages use add fractional points (æ/ø for Danish and Norwegian, ß/ü for
German, ñ/¿ for Spanish, "ij" for Dutch...). The best score wins when it has at
least one point and beats the runner-up; otherwise the answer is "" (unsure).

Close relatives are told apart by the words they do not share: Danish "af, efter,
hvad, nu, meget, mig, noget" against Swedish "av, efter, vad, nu, mycket, mig,
något, och, är, att, inte" and Norwegian "av, etter, hva, nå, mye, meg, noe". A tie
between Danish and Norwegian goes to Danish (the shared words are the common ones).

Texts without Latin letters are classified by script (Cyrillic, Greek, Arabic,
Hebrew, Thai, Hangul, kana, Han) when no word list matched.
"""

from __future__ import annotations

import re

from groundcontrol.text import TextInfo, analyse

__all__ = ["LANGUAGES", "detect_language", "detect_text_language", "function_words"]

_FUNCTION_WORDS: dict[str, str] = {
    "en": """the and is are was were to of in it this that for with my i you not but have
        has had be been just so what why how they we on at from your its can will would
        should could about a an me all do does did don doesn didn isn wasn aren won get
        got if or out up really than then there their which who when still again after
        by our us he she him her them these those some any very much too also only ever
        never always here where because into over am being here's i'm im ive let lets
        thanks thank please yes yeah no something anything nothing everything love
        like new one great good bad looks works working anyone someone everyone
        want need know think way today
        another more better most other every each day""",
    "de": """der die das und ist nicht ich du er sie es wir ihr ein eine einen einem einer
        eines zu mit auf für von dem den des im an am auch sich aber als wie noch nach
        bei aus um nur so mal schon doch wenn oder kein keine keinen mehr sehr hat habe
        haben hatte wird werden wurde war bin bist sind kann können muss mich mir dir
        dich uns euch mein meine meinen dein unser jetzt heute immer wieder was warum
        wieso weil dass ob gibt geht endlich einfach wirklich echt ganz gar nichts
        etwas viel vom zum zur beim ins über unter durch gegen ohne seit bis hier dann
        denn also ja nein nee halt eben eigentlich leider bitte danke gut schlecht
        toll nie diese dieser diesen dieses man
        ab uhr tag neu neue neuer neues neuen klar zwei drei jeder jede alles""",
    "da": """og i jeg det at en den til er som på de med af for ikke der var mig sig men et
        har om vi min havde ham hun nu over da fra du ud sin dem os op man hans hvor
        eller hvad skal selv her alle vil blev kunne ind når være dog noget ville jo
        deres efter ned skulle denne end dette mit også under have dig hende mine alt
        meget sit sine mod disse hvis din nogle hos blive mange bliver været sådan
        bare lige synes godt rigtig helt altså sgu nok hvorfor hvordan ingen aldrig
        måske kan får fik gør gjorde mere hele tak ja nej lidt stadig igen allerede
        endnu fordi derfor vores jeres elsker virker dårlig dårligt fedt fantastisk
        skuffet købte købt nye ny gik kom tager tog sagde siger ser kun vel nemlig
        sikkert især hvornår hvilken hvilket nogen ingenting desværre flot hurtig
        sjovt vildt pænt sygt uge uger dage
        så samme hver andre dag kl hele tre""",
    "sv": """och i att det som en på är av för med till den har de inte om ett han men var
        jag sig från vi så kan när hon under också efter eller nu sin där vid mot ska
        skulle kommer ut får finns vara hade alla andra mycket än här då sedan över
        bara in blir upp även vad få vill ha många hur mer går detta nya skall hans
        utan sina något mig dig min mitt mina din ditt vår våra dem oss någon inget
        ingen aldrig varför kanske redan fortfarande igen riktigt verkligen helt
        lite tack ja nej jättebra bra dålig dåligt älskar fungerar köpte
        samma idag hela tiden två tre tillbaka veckor dagar""",
    "no": """og i jeg det at en den til er som på de med av for ikke der var meg seg men et
        har om vi min hadde ham hun nå over da fra du ut sin dem oss opp man hans hvor
        eller hva skal selv her alle vil ble kunne inn når være noe ville jo deres
        etter ned skulle denne enn dette mitt også under ha deg henne mine alt mye
        veldig noen hvis din hos bli mange blir vært sånn bare litt fortsatt igjen
        allerede ennå fordi derfor vår våre ikkje kanskje hvorfor hvordan ingen
        aldri takk ja nei kjempe skikkelig ganske elsker funker dårlig dritt""",
    "nl": """de het een en van ik te dat die in is niet op aan met zijn voor er maar om hij
        ook als dan of wat bij nog naar kan uit zo was wel geen ze me je mijn jij wij
        we heb hebt heeft hebben deze dit nu al waarom hoe toch echt gewoon heel erg
        veel weer nooit altijd niks niets moet kunnen wordt worden door over tegen
        zonder tot hier daar dus want omdat alleen even misschien bedankt ja nee
        goed slecht mooi leuk geweldig
        twee drie vandaag dag dagen weken dezelfde allemaal iedereen elke nieuwe""",
    "fr": """le la les de des du un une et est en que qui pas ne je tu il elle nous vous
        ils elles on ce cet cette ces mon ma mes ton ta tes son sa ses pour dans sur
        avec par au aux mais ou donc car ni très trop plus moins bien tout tous toute
        rien jamais toujours encore déjà aussi comme quand pourquoi comment sont suis
        sommes êtes ont ai as avons avez était été fait faire c j l d n qu s y ça oui
        non merci vraiment bon mauvais nul génial""",
    "es": """el la los las de del un una unos unas y es en que no por para con se lo le
        les me te mi mis tu su sus yo él ella pero más muy como cuando porque qué
        está están estoy son soy ser fue era hay ha he tiene tengo todo todos nada
        nunca siempre ya también sí gracias este esta esto eso esa ese al sin sobre
        hasta desde bien mal aquí muy bueno malo genial
        hoy tres semanas días momento""",
    "it": """il lo la i gli le di del della dei che è e non per un una con sono ho ha mi
        ti si ma come più anche questo questa molto tutto niente sempre ancora già
        perché quando grazie bene male buono cattivo""",
    "pt": """o a os as de do da dos das um uma e é em no na não que para com por se eu
        você ele ela meu minha mas mais muito como quando porque também está estou
        são sou foi tem tenho isso isto esse essa este esta nada nunca sempre já
        obrigado obrigada bom ruim ótimo""",
}

#: Languages the detector can name from word lists, in tie-break order.
LANGUAGES: tuple[str, ...] = tuple(_FUNCTION_WORDS)

# Telltale letters: (letter, {language: points}); the digraph "ij" adds a point for
# Dutch. Looked up for the distinct non-ASCII characters of a text only.
_LETTERS: tuple[tuple[str, dict[str, float]], ...] = (
    ("æ", {"da": 1.0, "no": 1.0}),
    ("ø", {"da": 1.0, "no": 1.0}),
    ("å", {"da": 0.5, "no": 0.5, "sv": 1.0}),
    ("ä", {"de": 1.0, "sv": 1.0}),
    ("ö", {"de": 1.0, "sv": 1.0}),
    ("ü", {"de": 1.5}),
    ("ß", {"de": 2.0}),
    ("ñ", {"es": 2.0}),
    ("¿", {"es": 2.0}),
    ("¡", {"es": 2.0}),
    ("ã", {"pt": 2.0}),
    ("õ", {"pt": 2.0}),
    ("ç", {"fr": 1.0, "pt": 1.0}),
    ("é", {"fr": 0.5, "es": 0.3, "pt": 0.3, "it": 0.3}),
    ("è", {"fr": 1.0, "it": 0.5}),
    ("ê", {"fr": 1.0, "pt": 0.5}),
    ("à", {"fr": 1.0, "it": 0.5, "pt": 0.3}),
    ("ù", {"fr": 1.0, "it": 0.5}),
    ("œ", {"fr": 2.0}),
    ("á", {"es": 0.5, "pt": 0.5}),
    ("í", {"es": 0.5, "pt": 0.5}),
    ("ó", {"es": 0.5, "pt": 0.5}),
    ("ú", {"es": 0.5, "pt": 0.3}),
)

_INDEX = {lang: i for i, lang in enumerate(LANGUAGES)}
# One union set finds every listed word of a text with a single intersection. Each
# word maps to a byte string of the languages it counts for; joining those and
# counting each language's byte runs in C instead of a Python loop per word.
_WORD_LANGS: dict[str, bytes] = {}
for _lang, _words in _FUNCTION_WORDS.items():
    for _w in _words.split():
        _WORD_LANGS[_w] = _WORD_LANGS.get(_w, b"") + bytes([_INDEX[_lang]])
_ALL_WORDS = frozenset(_WORD_LANGS)
_LANG_BYTES = tuple(bytes([i]) for i in range(len(LANGUAGES)))
_LETTER_GAINS = {
    s: tuple((_INDEX[lang], pts) for lang, pts in langs.items()) for s, langs in _LETTERS
}
_NON_ASCII = re.compile(r"[^\x00-\x7f]")
_EN, _DA, _NO, _NL = _INDEX["en"], _INDEX["da"], _INDEX["no"], _INDEX["nl"]

_SCRIPTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\u3040-\u30ff]"), "ja"),  # kana before Han: Japanese mixes both
    (re.compile(r"[\uac00-\ud7af]"), "ko"),
    (re.compile(r"[\u4e00-\u9fff]"), "zh"),
    (re.compile(r"[іїєґ]"), "uk"),
    (re.compile(r"[\u0400-\u04ff]"), "ru"),
    (re.compile(r"[\u0370-\u03ff]"), "el"),
    (re.compile(r"[\u0590-\u05ff]"), "he"),
    (re.compile(r"[\u0600-\u06ff]"), "ar"),
    (re.compile(r"[\u0e00-\u0e7f]"), "th"),
)


def detect_language(info: TextInfo) -> str:
    """ISO 639-1 code of the text's language, or "" when the signals are too weak."""
    hits = b"".join(map(_WORD_LANGS.__getitem__, _ALL_WORDS.intersection(info.words)))
    scores: list[float] = list(map(hits.count, _LANG_BYTES))
    lower = info.lower
    if not lower.isascii():
        for char in set(_NON_ASCII.findall(lower)):
            gains = _LETTER_GAINS.get(char)
            if gains is not None:
                for i, pts in gains:
                    scores[i] += pts
    if "ij" in lower:
        scores[_NL] += 1.0
    best = max(scores)
    if best < 1.0:
        return "" if lower.isascii() else _by_script(lower)
    first = scores.index(best)
    ties = scores.count(best)
    if ties == 1:
        return LANGUAGES[first]
    # English leads the list: in a tie ("is" is also Dutch, "in" also German) the
    # language of most posts is the better bet. Danish and Norwegian share their
    # commonest words; a tie between just those two means nothing Norwegian-only.
    if first == _EN or (ties == 2 and first == _DA and scores[_NO] == best):
        return LANGUAGES[first]
    return ""


def detect_text_language(text: str) -> str:
    """:func:`detect_language` for a raw text."""
    return detect_language(analyse(text))


def function_words(lang: str) -> frozenset[str]:
    """The listed function words of ``lang`` (empty for a language without a list)."""
    return frozenset(_FUNCTION_WORDS.get(lang, "").split())


def _by_script(lower: str) -> str:
    for pattern, code in _SCRIPTS:
        if pattern.search(lower) is not None:
            return code
    return ""
