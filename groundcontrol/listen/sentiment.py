"""Sentiment scores in [-1, 1] for English, German and Danish, emoji for the rest.

English is a port of VADER (Hutto & Gilbert, 2014) that gives the same compound
score as the ``vaderSentiment`` package for the same text, in a fraction of the
time: tokens go through a per-chunk cache in one C-level pass, and only sentiment
words (and, when a rule word occurs at all, their neighbours) get Python-level
work, where VADER runs every rule for every token. VADER's lexicons (MIT) ship in
``groundcontrol/data``; see ``data/LICENSES.md``.

The port keeps VADER's quirks on purpose (its tokenizer keeps punctuation on tokens
of two letters or fewer, its negation window crosses sentence ends, its 'but' rule
looks values up by equality) so that scores agree with the reference; the tests
check that against ``vaderSentiment`` on a corpus and on random rule mixes. One
deliberate difference: a typographic apostrophe (’), which phones type, counts as
``'``, so "don’t like" is negated as "don't like" is.

German, Danish, French, Spanish, Dutch and Swedish use our own lexicons
(``data/sentiment_LANG.txt``) with the same rules, plus what those languages need:
negation *after* the verb ("funktioniert nicht", "virker ikke", "ne marche pas"),
two-word entries, compounds, French elisions. English adds a supplement lexicon
for product talk (``data/sentiment_en.txt``) unless built with ``english="vader"``.
On top, for every language with a lexicon: sarcasm markers ("/s", 🙄, "yeah right",
"na toll"...) turn praise negative, "too" + adjective is a complaint, a hashtag ending
in a sentiment word counts ("#northwindfail"), mild questions are damped. Other
languages score only emoji and emoticons. An empty language (detection unsure) is
scored as English, the lingua franca of short posts.
"""

from __future__ import annotations

import math
import re
import string
from collections.abc import Callable, Iterable
from functools import cache
from importlib import resources

from groundcontrol.listen.lang import detect_language, function_words
from groundcontrol.text import TextInfo, analyse

__all__ = ["SentimentScorer", "normalize"]


def _words(text: str) -> tuple[str, ...]:
    """Whitespace-separated words: word lists stay readable as text."""
    return tuple(text.split())


# VADER's empirically derived constants.
B_INCR = 0.293
B_DECR = -0.293
C_INCR = 0.733
N_SCALAR = -0.74

_PUNCT = string.punctuation

# VADER's word lists, verbatim (MIT, C.J. Hutto).
_EN_NEGATE = frozenset(
    _words("""aint arent cannot cant couldnt darent didnt doesnt ain't aren't can't couldn't
    daren't didn't doesn't dont hadnt hasnt havent isnt mightnt mustnt neither don't
    hadn't hasn't haven't isn't mightn't mustn't neednt needn't never none nope nor not
    nothing nowhere oughtnt shant shouldnt uhuh wasnt werent oughtn't shan't shouldn't
    uh-uh wasn't weren't without wont wouldnt won't wouldn't rarely seldom despite""")
)

_EN_BOOSTERS: dict[str, float] = {
    **dict.fromkeys(
        _words("""absolutely amazingly awfully completely considerable considerably decidedly
        deeply effing enormous enormously entirely especially exceptional exceptionally
        extreme extremely fabulously flipping flippin frackin fracking fricking frickin
        frigging friggin fully fuckin fucking fuggin fugging greatly hella highly hugely
        incredible incredibly intensely major majorly more most particularly purely
        quite really remarkably so substantially thoroughly total totally tremendous
        tremendously uber unbelievably unusually utter utterly very"""),
        B_INCR,
    ),
    **dict.fromkeys(
        _words("""almost barely hardly kinda kindof kind-of less little marginal marginally
        occasional occasionally partly scarce scarcely slight slightly somewhat sorta
        sortof sort-of"""),
        B_DECR,
    ),
    "just enough": B_DECR,
    "kind of": B_DECR,
    "sort of": B_DECR,
}

_EN_SPECIAL_CASES: dict[str, float] = {
    "the shit": 3,
    "the bomb": 3,
    "bad ass": 1.5,
    "badass": 1.5,
    "bus stop": 0.0,
    "yeah right": -2,
    "kiss of death": -1.5,
    "to die for": 3,
    "beating heart": 3.5,
}

# The rarest word of each multi-word special case or booster ("the shit" -> "shit").
# An idiom can only match when its rarest word is near the sentiment word, so without
# one the check (seven string joins in VADER) is skipped.
_EN_IDIOM_WORDS = frozenset(_words("shit bomb ass bus yeah kiss die beating enough kind sort"))
assert all(
    any(w in _EN_IDIOM_WORDS for w in key.split())
    for key in (*_EN_SPECIAL_CASES, *_EN_BOOSTERS)
    if " " in key
)
# Words that change a sentiment word up to three tokens later ("never" and "without"
# are negators, "so" a booster). When none is in the window, no token there holds
# "n't" and the word before is not "this", VADER's window rules are all no-ops.
_EN_WINDOW_WORDS = frozenset([*_EN_NEGATE, *(k for k in _EN_BOOSTERS if " " not in k)])
_EN_RULE_WORDS = _EN_IDIOM_WORDS | _EN_WINDOW_WORDS | {"no", "least", "but"}
assert {"never", "without", "so"} <= _EN_WINDOW_WORDS
_SO_THIS = ("so", "this")
_OR_NOR = ("or", "nor")
_AT_VERY = ("at", "very")

# Our own valences for common emoji whose VADER description scores oddly ("fire" is
# negative, "broken heart" positive, "thumbs up" and "pouting face" nothing). Used
# where VADER is not the reference: German, Danish and emoji-only languages.
_EMOJI_OVERRIDES: dict[str, float] = {
    "👍": 1.8, "👎": -1.8, "👏": 1.8, "🙌": 2.0, "🙏": 1.2, "💪": 1.5, "🔥": 1.5,
    "💯": 2.0, "💔": -2.2, "😡": -2.5, "🤬": -3.0, "😤": -1.8, "🙄": -1.3, "😒": -1.5,
    "🤢": -2.2, "🤮": -2.6, "💩": -2.0, "🤡": -1.5, "🤦": -1.5, "🤩": 2.8, "😋": 1.5,
    "😉": 1.0, "😜": 1.0, "😛": 0.8, "😝": 0.8, "🤪": 0.8, "😖": -1.8, "😣": -1.5,
    "😑": -0.5, "😷": -1.0, "🤒": -1.2, "🤕": -1.3, "⭐": 1.5, "🌟": 1.8, "✅": 1.2,
    "❌": -1.2, "🚀": 1.5, "🏆": 2.0, "🎊": 1.8,
}  # fmt: skip

# Every emoji of VADER's lexicon lies in these ranges: a cheap test before the lookups.
_MAYBE_EMOJI = re.compile("[\u00a9\u00ae\u203c-\u3299\U0001f000-\U0001faff]")

# Two capitals in a row: the only way a word is ALL CAPS (Latin-1 capitals included).
_CAPS_RUN = re.compile(r"[A-ZÀ-ÖØ-Þ]{2}")

# What _Stripped strips around a word: ASCII punctuation plus the typographic and
# Spanish marks ("¡genial!", „toll“, «nul»).
_STRIP = _PUNCT + "¡¿«»“”„‚‘’…–—·"
# French elided articles and pronouns: "l'écran" -> "écran", "qu'il" -> "il".
_ELISION = re.compile(r"^(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu)'(?=\w)")

# Characters that end a clause: a negator after one belongs to the next clause.
_CLAUSE_END = frozenset(",.;:!?")


def normalize(score: float, alpha: float = 15.0) -> float:
    """VADER's squashing of a valence sum into [-1, 1]."""
    norm = score / math.sqrt(score * score + alpha)
    return -1.0 if norm < -1.0 else 1.0 if norm > 1.0 else norm


def _punctuation_emphasis(text: str) -> float:
    ep = min(text.count("!"), 4) * 0.292
    qm = text.count("?")
    if qm > 1:
        return ep + (qm * 0.18 if qm <= 3 else 0.96)
    return ep


def _compound_score(total: float, text: str) -> float:
    if total > 0:
        total += _punctuation_emphasis(text)
    elif total < 0:
        total -= _punctuation_emphasis(text)
    else:
        return 0.0
    return round(normalize(total), 4)


def _cap_differential(raw: list[str]) -> bool:
    upper = sum(map(str.isupper, raw))
    return 0 < upper < len(raw)


#: Most entries a token cache holds before it starts over (bounds memory).
CACHE_LIMIT = 200_000


class _VaderWords(dict[str, str]):
    """Lower-case chunk -> VADER's token: punctuation stripped unless that leaves
    two characters or fewer (":)", "ok."). Social text reuses the same chunks all
    the time, so ``map(cache.__getitem__, chunks)`` is a C-level pass."""

    def __missing__(self, chunk: str) -> str:
        if len(self) >= CACHE_LIMIT:
            self.clear()
        stripped = chunk.strip(_PUNCT)
        word = self[chunk] = stripped if len(stripped) > 2 else chunk
        return word


class _Stripped(dict[str, str]):
    """Lower-case chunk -> the chunk without leading and trailing punctuation.

    The first time a long word is seen it is also tried as a compound; one that
    scores is added to the rules' lexicon, so later lookups find it directly.
    """

    def __init__(self, rules: _LexiconRules) -> None:
        super().__init__()
        self.rules = rules

    def __missing__(self, chunk: str) -> str:
        if len(self) >= CACHE_LIMIT:
            self.clear()
        word = chunk.strip(_STRIP)
        if self.rules.elisions and ("'" in word or "’" in word):
            word = _ELISION.sub("", word.replace("’", "'"))
        self[chunk] = word
        if len(word) > 6:
            self.rules.learn_compound(word)
        return word


# --------------------------------------------------------------------------- data


def _read(name: str) -> str:
    return resources.files("groundcontrol").joinpath("data", name).read_text("utf-8")


@cache
def _vader_lexicon() -> dict[str, float]:
    lex: dict[str, float] = {}
    for line in _read("vader_lexicon.txt").splitlines():
        if line.strip():
            word, measure = line.strip().split("\t")[0:2]
            lex[word] = float(measure)
    return lex


@cache
def _emoji_descriptions() -> dict[str, str]:
    emoji: dict[str, str] = {}
    for line in _read("emoji_utf8_lexicon.txt").rstrip("\n").split("\n"):
        char, description = line.strip().split("\t")[0:2]
        emoji[char] = description
    return emoji


def _inflect(form: str, endings: tuple[str, ...]) -> list[str]:
    if form.endswith("~"):
        stem = form[:-1]
        return [stem, *(stem + e for e in endings)]
    return [form]


class _OwnLexicon:
    """One of our lexicon files: words, two-word phrases, compound prefixes and suffixes."""

    def __init__(self, name: str, endings: tuple[str, ...]) -> None:
        self.words: dict[str, float] = {}
        self.phrases: dict[str, float] = {}
        self.prefixes: dict[str, float] = {}
        self.suffixes: dict[str, float] = {}
        for lineno, line in enumerate(_read(name).splitlines(), 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            value, _, forms = line.partition(" ")
            try:
                valence = float(value)
            except ValueError:
                raise ValueError(f"{name}:{lineno}: expected a valence, got {value!r}") from None
            for form in forms.split():
                if "+" in form:
                    self.phrases[form.replace("+", " ")] = valence
                elif form.startswith("*"):
                    self.suffixes[form[1:]] = valence
                elif form.endswith("*"):
                    self.prefixes[form[:-1]] = valence
                else:
                    for w in _inflect(form, endings):
                        self.words[w] = valence


# --------------------------------------------------------------------------- English


class _Vader:
    """VADER's algorithm over its own lexicon; see the module docstring."""

    def __init__(
        self, lexicon: dict[str, float] | None = None, skip_emoji: frozenset[str] = frozenset()
    ) -> None:
        self.lexicon = _vader_lexicon() if lexicon is None else lexicon
        # VADER skips boosters before the lexicon lookup; none is in its lexicon, but
        # taking them out of the keys keeps that true whatever the data file says.
        self.keys = frozenset(self.lexicon).difference(_EN_BOOSTERS)
        self.vader_words = _VaderWords()
        self.emoji = _emoji_descriptions()
        # VADER replaces emoji one code point at a time, so multi-point keys never
        # match; a space before the description splits tokens the way VADER does.
        # Emoji in ``skip_emoji`` are scored by the caller: they become a space.
        described = {
            c: " " if c in skip_emoji else " " + d for c, d in self.emoji.items() if len(c) == 1
        }

        def describe(m: re.Match[str]) -> str:
            char = m.group()
            return described.get(char, char)

        self.describe: Callable[[re.Match[str]], str] = describe

    def prepare(self, text: str, lower: str) -> tuple[str, str]:
        if text.isascii():
            return text, lower
        if "’" in text:
            text = text.replace("’", "'")
            lower = lower.replace("’", "'")
        if _MAYBE_EMOJI.search(text) is not None:
            # A regex scan plus one call per emoji beats str.translate with a big
            # table, which looks up every character of the text.
            described = _MAYBE_EMOJI.sub(self.describe, text)
            if described != text:
                text = described.strip()
                lower = text.lower()
        return text, lower

    def score(self, info: TextInfo) -> float:
        text, lower = self.prepare(info.text, info.lower)
        chunks = info.chunks if text is info.text else lower.split()
        return _compound_score(sum(self.sentiments(text, lower, chunks)), text)

    def sentiments(self, text: str, lower: str, low: list[str] | None = None) -> list[float]:
        """Valences of the sentiment-bearing tokens, in order, after all rules.

        ``low`` is ``lower.split()`` when the caller has it already.
        """
        raw = text.split()
        if low is None:
            low = lower.split()
        if len(low) != len(raw):  # a lower-cased character that is not 1:1
            low = [t.lower() for t in raw]
        words = list(map(self.vader_words.__getitem__, low))
        keys = self.keys
        positions = [i for i, w in enumerate(words) if w in keys]
        if not positions:
            return []
        return self._valences(raw, words, positions, "n't" in lower)

    def sentence_total(self, text: str, lower: str, low: list[str] | None = None) -> float:
        """The valences of each sentence, scored on its own, summed.

        The same as summing :meth:`sentiments` over the parts of ``text`` split at
        a sentence end, but the text is split and looked up once, and a sentence
        with no sentiment word costs nothing more.
        """
        raw = text.split()
        if low is None:
            low = lower.split()
        if len(low) != len(raw):
            low = [t.lower() for t in raw]
        words = list(map(self.vader_words.__getitem__, low))
        keys = self.keys
        positions = [i for i, w in enumerate(words) if w in keys]
        if not positions:
            return 0.0
        nt = "n't" in lower
        # A sentence ends after a chunk that ends in '.', '!' or '?': chunks are split
        # at white space, and a sentence end is such a mark followed by white space.
        ends = [k + 1 for k, chunk in enumerate(raw) if chunk[-1] in _SENTENCE_MARKS]
        total = 0.0
        start = 0
        p = 0
        n_pos = len(positions)
        for end in ends:
            if positions[p] < end:
                q = p + 1
                while q < n_pos and positions[q] < end:
                    q += 1
                hits = [i - start for i in positions[p:q]]
                total += sum(self._valences(raw[start:end], words[start:end], hits, nt))
                if q == n_pos:
                    return total
                p = q
            start = end
        hits = [i - start for i in positions[p:]]
        return total + sum(self._valences(raw[start:], words[start:], hits, nt))

    def _valences(
        self, raw: list[str], words: list[str], positions: list[int], nt_possible: bool
    ) -> list[float]:
        """The rules over the tokens at ``positions`` (``nt_possible``: some chunk
        may hold "n't")."""
        lex = self.lexicon
        # Which rule words occur at all, found with one intersection: most texts have
        # none of "no", "least", "but", an idiom or a window word, so most per-hit
        # checks below are skipped without looking at neighbours.
        present = _EN_RULE_WORDS.intersection(words)
        has_no = "no" in present
        has_least = "least" in present
        idioms = not _EN_IDIOM_WORDS.isdisjoint(present)
        window_words = _EN_WINDOW_WORDS
        windows = not window_words.isdisjoint(present)
        nt = {i for i, w in enumerate(words) if "n't" in w} if nt_possible else None
        n = len(words)
        cap: bool | None = None
        vals: list[float] = []
        where: list[int] = []
        for i in positions:
            item = words[i]
            if item == "kind" and i < n - 1 and words[i + 1] == "of":
                continue
            v = lex[item]
            if has_no:
                if item == "no" and i != n - 1 and words[i + 1] in lex:
                    v = 0.0
                if (
                    (i > 0 and words[i - 1] == "no")
                    or (i > 1 and words[i - 2] == "no")
                    or (i > 2 and words[i - 3] == "no" and words[i - 1] in _OR_NOR)
                ):
                    v = lex[item] * N_SCALAR
            if raw[i].isupper():
                if cap is None:
                    cap = _cap_differential(raw)
                if cap:
                    v = v + C_INCR if v > 0 else v - C_INCR
            if (
                (windows and not window_words.isdisjoint(words[i - 3 if i > 3 else 0 : i]))
                or (nt is not None and (i - 1 in nt or i - 2 in nt or i - 3 in nt))
                or (i > 2 and words[i - 1] == "this")
            ):
                v = self._window(v, words, raw, i, cap)
            elif (
                idioms
                and i > 2
                and words[i - 3] not in lex
                and not _EN_IDIOM_WORDS.isdisjoint(words[i - 3 : i + 3])
            ):
                v = self._idioms(v, words, i)
            if (
                has_least
                and i > 0
                and words[i - 1] == "least"
                and (i == 1 or words[i - 2] not in _AT_VERY)
            ):
                v = v * N_SCALAR
            vals.append(v)
            where.append(i)
        if "but" in present:
            self._but(vals, where, words.index("but"))
        return vals

    def _window(
        self, v: float, words: list[str], raw: list[str], i: int, cap: bool | None
    ) -> float:
        """VADER's rules for the (up to) three tokens before a sentiment word."""
        lex = self.lexicon
        negate = _EN_NEGATE
        for k in (1, 2, 3):
            j = i - k
            if j < 0:
                break
            pw = words[j]
            if pw in lex:
                continue
            b = _EN_BOOSTERS.get(pw)
            if b is not None:
                s = -b if v < 0 else b
                if raw[j].isupper():
                    if cap is None:
                        cap = _cap_differential(raw)
                    if cap:
                        s = s + C_INCR if v > 0 else s - C_INCR
                if k == 2:
                    s = s * 0.95
                elif k == 3:
                    s = s * 0.9
                v = v + s
            if k == 1:
                if pw in negate or "n't" in pw:
                    v = v * N_SCALAR
            elif k == 2:
                if pw == "never" and words[i - 1] in _SO_THIS:
                    v = v * 1.25
                elif pw == "without" and words[i - 1] == "doubt":
                    pass
                elif pw in negate or "n't" in pw:
                    v = v * N_SCALAR
            else:
                if (pw == "never" and words[i - 2] in _SO_THIS) or words[i - 1] in _SO_THIS:
                    v = v * 1.25
                elif pw == "without" and (words[i - 2] == "doubt" or words[i - 1] == "doubt"):
                    pass
                elif pw in negate or "n't" in pw:
                    v = v * N_SCALAR
                if not _EN_IDIOM_WORDS.isdisjoint(words[i - 3 : i + 3]):
                    v = self._idioms(v, words, i)
        return v

    @staticmethod
    def _idioms(v: float, words: list[str], i: int) -> float:
        n = len(words)
        w0, w1, w2, w3 = words[i], words[i - 1], words[i - 2], words[i - 3]
        onezero = f"{w1} {w0}"
        twoonezero = f"{w2} {w1} {w0}"
        twoone = f"{w2} {w1}"
        threetwoone = f"{w3} {w2} {w1}"
        threetwo = f"{w3} {w2}"
        special = _EN_SPECIAL_CASES
        for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
            if seq in special:
                v = special[seq]
                break
        if n - 1 > i:
            zeroone = f"{w0} {words[i + 1]}"
            if zeroone in special:
                v = special[zeroone]
        if n - 1 > i + 1:
            zeroonetwo = f"{w0} {words[i + 1]} {words[i + 2]}"
            if zeroonetwo in special:
                v = special[zeroonetwo]
        for ngram in (threetwoone, threetwo, twoone):
            if ngram in _EN_BOOSTERS:
                v = v + _EN_BOOSTERS[ngram]
        return v

    @staticmethod
    def _but(vals: list[float], where: list[int], bi: int) -> None:
        # VADER finds each value's position with list.index, i.e. the *first* equal
        # value; mirrored here (zeros are skipped: scaling them changes nothing).
        for k in range(len(vals)):
            s = vals[k]
            if s == 0:
                continue
            m = vals.index(s)
            si = where[m]
            if si < bi:
                vals[m] = s * 0.5
            elif si > bi:
                vals[m] = s * 1.5


# --------------------------------------------------------------------------- de, da


class _LexiconRules:
    """VADER's rules over one of our own lexicons, for a language other than English."""

    def __init__(
        self,
        lexicon: _OwnLexicon,
        *,
        boosters: dict[str, float],
        intensifier_prefixes: Iterable[str],
        negators: Iterable[str],
        contrast: Iterable[str],
        emoticons: dict[str, float],
        elisions: bool = False,
    ) -> None:
        self.elisions = elisions
        self.lexicon = dict(lexicon.words)
        self.base: dict[str, float] = dict(lexicon.words)
        """The lexicon's own words, without learned compounds."""
        self.stripped = _Stripped(self)
        self.emoticons = emoticons
        self.emoticon_keys = frozenset(emoticons)
        self.boosters = boosters
        self.negators = frozenset(negators)
        self.contrast = frozenset(contrast)
        # A phrase's first word is a key too, so the positions scan finds it.
        self.follow: dict[str, dict[str, float]] = {}
        for phrase, value in lexicon.phrases.items():
            first, second = phrase.split(" ", 1)
            self.follow.setdefault(first, {})[second] = value
        self.keys = set(self.lexicon).union(self.follow)
        self.learned = 0
        # Compounds ("Pixelfehler", "Schrottgerät", "supergut", "pissedårlig"). Every
        # affix is at least three (prefix) or four (suffix) letters long, so a long
        # word's first three and last four letters pick the few affixes to try.
        self.prefixes: dict[str, float | None] = dict.fromkeys(intensifier_prefixes)
        self.prefixes.update(lexicon.prefixes)
        self.suffixes = lexicon.suffixes
        self.by_head: dict[str, list[str]] = {}
        for prefix in sorted(self.prefixes, key=len, reverse=True):
            self.by_head.setdefault(prefix[:3], []).append(prefix)
        self.by_tail: dict[str, list[str]] = {}
        for suffix in sorted(self.suffixes, key=len, reverse=True):
            self.by_tail.setdefault(suffix[-4:], []).append(suffix)
        if any(len(p) < 3 for p in self.prefixes) or any(len(x) < 4 for x in self.suffixes):
            raise ValueError("compound prefixes need 3 letters and suffixes 4")

    def learn_compound(self, word: str) -> None:
        """Add ``word`` to the lexicon if it is a compound with a valence."""
        if word in self.keys or self.learned >= CACHE_LIMIT:
            return
        value = self._compound(word)
        if value is not None:
            self.lexicon[word] = value
            self.keys.add(word)
            self.learned += 1

    def _compound(self, word: str) -> float | None:
        """Valence of a compound word that is not in the lexicon itself, or None."""
        for prefix in self.by_head.get(word[:3], ()):
            if word.startswith(prefix):
                rest = word[len(prefix) :].lstrip("-")
                if len(rest) < 3:
                    break
                base = self.lexicon.get(rest)
                if base is not None:  # an intensified word: "supergut"
                    return base + B_INCR if base > 0 else base - B_INCR
                own = self.prefixes[prefix]
                if own is not None:
                    return own
                break
        for suffix in self.by_tail.get(word[-4:], ()):
            if word.endswith(suffix) and len(word) > len(suffix) + 1:
                return self.suffixes[suffix]
        return None

    def sentiments(self, text: str, low: list[str]) -> list[float]:
        """Valences of the sentiment-bearing words (``low`` = lower-case chunks)."""
        # Not VADER's tokens: no reference to agree with here, so punctuation is
        # simply stripped and emoticons are scored apart.
        words = list(map(self.stripped.__getitem__, low))
        keys = self.keys
        positions = [i for i, w in enumerate(words) if w in keys]
        # Emoticons (":)", "<3") count wherever they are, outside the word rules.
        emoticons = [self.emoticons[e] for e in self.emoticon_keys.intersection(low)]
        if not positions:
            return emoticons
        lex = self.lexicon
        follow = self.follow
        boosters = self.boosters
        negators = self.negators
        n = len(words)
        # Only ALL-CAPS words of two letters or more carry emphasis here.
        raw = text.split() if _CAPS_RUN.search(text) is not None else None
        if raw is not None and len(raw) != n:
            raw = None
        cap = raw is not None and _cap_differential(raw)
        vals: list[float] = []
        where: list[int] = []
        consumed = -1
        for i in positions:
            if i <= consumed:
                continue
            item = words[i]
            v: float | None = None
            nxt = follow.get(item)
            if nxt is not None and i + 1 < n and words[i + 1] in nxt:
                v = nxt[words[i + 1]]
                consumed = i + 1
            else:
                v = lex.get(item)
                if v is None:  # the first word of a phrase, alone
                    continue
            if cap and raw is not None and raw[i].isupper():
                v = v + C_INCR if v > 0 else v - C_INCR
            negated = False
            for k in (1, 2, 3):
                j = i - k
                if j < 0 or low[j][-1] in _CLAUSE_END:
                    break
                pw = words[j]
                if pw in lex:
                    continue
                b = boosters.get(pw)
                if b is not None:
                    s = -b if v < 0 else b
                    if cap and raw is not None and raw[j].isupper():
                        s = s + C_INCR if v > 0 else s - C_INCR
                    v = v + (s if k == 1 else s * 0.95 if k == 2 else s * 0.9)
                if pw in negators:
                    v = v * N_SCALAR
                    negated = True
            if not negated and consumed != i + 1:
                v = self._negated_after(v, words, low, i)
            vals.append(v)
            where.append(i)
        if not self.contrast.isdisjoint(words):
            bi = min(words.index(w) for w in self.contrast.intersection(words))
            for k, si in enumerate(where):
                if si < bi:
                    vals[k] *= 0.5
                elif si > bi:
                    vals[k] *= 1.5
        return vals + emoticons

    def _negated_after(self, v: float, words: list[str], low: list[str], i: int) -> float:
        # Verb-second word order puts the negator after the verb: "Das gefällt mir
        # (gar) nicht", "Den virker ikke". Only within the clause, and not when the
        # negator is followed by a sentiment word of its own ("gut, nicht schlecht").
        n = len(words)
        lex = self.lexicon
        for j in (i + 1, i + 2, i + 3):
            if j >= n or low[j - 1][-1] in _CLAUSE_END:
                return v
            if words[j] in self.negators:
                if j + 1 < n and words[j + 1] in lex:
                    return v
                return v * N_SCALAR
            if words[j] in lex:
                return v
        return v


_DE_BOOSTERS: dict[str, float] = {
    **dict.fromkeys(
        _words("""sehr total extrem extremst mega echt wirklich richtig voll absolut völlig
        vollkommen komplett ganz äußerst ausgesprochen besonders unglaublich
        unfassbar unheimlich wahnsinnig verdammt höchst zu so dermaßen derart
        ultra tierisch übelst krass"""),
        B_INCR,
    ),
    **dict.fromkeys(
        _words("""etwas bisschen bißchen wenig kaum eher relativ ziemlich leicht halbwegs
        einigermaßen fast teilweise"""),
        B_DECR,
    ),
}
_DE_NEGATORS = _words("""nicht nichts kein keine keinen keinem keiner keines nie niemals
    nirgends weder ohne""")

# Prefixes that intensify the word they are glued to ("supergut", "sauschlecht").
_DE_PREFIXES = _words("super mega ultra hyper sau ober extrem voll")

_DA_BOOSTERS: dict[str, float] = {
    **dict.fromkeys(
        _words("""meget virkelig vildt mega super helt totalt total rigtig utrolig utroligt
        ekstremt ekstrem enormt særdeles yderst afsindigt sindssygt pisse hamrende
        ufattelig ufatteligt vanvittigt så aldeles fuldstændig"""),
        B_INCR,
    ),
    **dict.fromkeys(
        _words("""lidt lidet knap næsten noget ret temmelig forholdsvis nogenlunde delvist
        halvt"""),
        B_DECR,
    ),
}
_DA_PREFIXES = _words("super mega ultra hyper pisse skide hamrende sindssygt vildt")
_DA_NEGATORS = _words("""ikke ikk ik aldrig ingen intet ingenting hverken uden""")


_FR_BOOSTERS: dict[str, float] = {
    **dict.fromkeys(
        _words("""très trop vraiment tellement hyper franchement totalement complètement
        absolument extrêmement vachement énormément particulièrement carrément si
        super grave ultra archi"""),
        B_INCR,
    ),
    **dict.fromkeys(_words("peu assez plutôt presque légèrement moyennement"), B_DECR),
}
# "ne" is not a negator: "ne ... pas" would negate twice.
_FR_NEGATORS = _words("pas jamais rien aucun aucune sans ni guère")
_FR_PREFIXES = _words("super hyper ultra méga archi")

_ES_BOOSTERS: dict[str, float] = {
    **dict.fromkeys(
        _words("""muy super súper muchísimo muchísima realmente totalmente completamente
        demasiado tan increíblemente extremadamente absolutamente re bien"""),
        B_INCR,
    ),
    **dict.fromkeys(_words("poco algo casi medio bastante ligeramente"), B_DECR),
}
_ES_NEGATORS = _words("no nunca ni sin nada ningún ninguna ninguno jamás tampoco")
_ES_PREFIXES = _words("super súper ultra mega requete archi")

_NL_BOOSTERS: dict[str, float] = {
    **dict.fromkeys(
        _words("""heel erg echt super zeer ontzettend enorm hartstikke mega zo totaal
        helemaal extreem ongelooflijk vreselijk verschrikkelijk bijzonder"""),
        B_INCR,
    ),
    **dict.fromkeys(_words("beetje redelijk vrij enigszins nogal bijna ietwat"), B_DECR),
}
_NL_NEGATORS = _words("niet geen nooit niks niets zonder noch")
_NL_PREFIXES = _words("super mega hyper ultra oer kei")

_SV_BOOSTERS: dict[str, float] = {
    **dict.fromkeys(
        _words("""mycket väldigt riktigt jätte verkligen helt extremt otroligt så totalt
        super grymt sjukt galet himla"""),
        B_INCR,
    ),
    **dict.fromkeys(_words("lite ganska rätt nästan något relativt någorlunda"), B_DECR),
}
_SV_NEGATORS = _words("inte ej aldrig ingen inget inga utan varken")
_SV_PREFIXES = _words("super jätte mega sjukt skit kanon")


class _LangSpec:
    """What one language needs besides its lexicon file."""

    def __init__(
        self,
        endings: tuple[str, ...],
        boosters: dict[str, float],
        prefixes: Iterable[str],
        negators: Iterable[str],
        contrast: Iterable[str],
        *,
        elisions: bool = False,
    ) -> None:
        self.endings = endings
        self.boosters = boosters
        self.prefixes = tuple(prefixes)
        self.negators = tuple(negators)
        self.contrast = tuple(contrast)
        self.elisions = elisions


_SPECS: dict[str, _LangSpec] = {
    "de": _LangSpec(
        ("e", "en", "er", "es", "em"),
        _DE_BOOSTERS,
        _DE_PREFIXES,
        _DE_NEGATORS,
        ("aber", "jedoch", "allerdings", "trotzdem"),
    ),
    "da": _LangSpec(
        ("t", "e"), _DA_BOOSTERS, _DA_PREFIXES, _DA_NEGATORS, ("men", "dog", "alligevel")
    ),
    "fr": _LangSpec(
        ("e", "s", "es"),
        _FR_BOOSTERS,
        _FR_PREFIXES,
        _FR_NEGATORS,
        ("mais", "cependant", "pourtant", "sauf"),
        elisions=True,
    ),
    "es": _LangSpec(
        ("o", "a", "os", "as", "s", "es"),
        _ES_BOOSTERS,
        _ES_PREFIXES,
        _ES_NEGATORS,
        ("pero", "embargo"),
    ),
    "nl": _LangSpec(
        ("e", "er", "ste"), _NL_BOOSTERS, _NL_PREFIXES, _NL_NEGATORS, ("maar", "echter")
    ),
    "sv": _LangSpec(
        ("t", "a", "e"), _SV_BOOSTERS, _SV_PREFIXES, _SV_NEGATORS, ("men", "dock", "fast")
    ),
}

# --------------------------------------------------------------------------- social layer

# Markers that say the praise around them is not meant: a positive total flips sign.
# "/s", "#sarcasm", eye-rolls and upside-down faces in every language; the stock
# phrases of each language on top.
_SARCASM_ANY = r"(?:^|\s)/s\b|#sarcasm|#not\b|🙄|🙃|😒"
_SARCASM: dict[str, str] = {
    "en": r"\byeah,? right\b|\bthanks for nothing\b|\boh (?:great|wonderful|joy|perfect)\b"
    r"|\bjust great\b|\bas if\b",
    "de": r"\bna (?:toll|super|prima|klasse)\b|\bja klar\b|\bdanke für nichts\b"
    r"|\bvielen dank auch\b|\bwie schön,",
    "da": r"\bja ja\b|\btak for ingenting\b|\bnej hvor (?:dejligt|skønt|fedt)\b"
    r"|\bnå (?:skønt|fedt|dejligt)\b",
    "fr": r"\boui bien sûr\b|\bmerci pour rien\b|\bc'est ça oui\b",
    "es": r"\bsí,? claro\b|\bgracias por nada\b|\bqué maravilla,",
    "nl": r"\bja hoor\b|\bbedankt voor niks\b|\btop hoor\b|\blekker dan\b",
    "sv": r"\bjajamän\b|\btack för ingenting\b|\bjo visst\b",
}

# "Too" + a plain adjective is a complaint ("way too loud", "viel zu laut", "alt for
# dyr"). The value a "too" adds when the next word is neither in the lexicon nor a
# function word; a set of words that must come right before it where "too" is
# ambiguous (German "zu", Danish "for", Dutch "te", Swedish "för" are prepositions
# too), None where it is not.
TOO_VALENCE = -1.5
# The total of a text with a sarcasm marker and no sentiment word.
SARCASM_ALONE = -1.0
# A question whose valence total lies within +-QUESTION_MILD is scaled by QUESTION_DAMP.
QUESTION_MILD = 1.5
QUESTION_DAMP = 0.2
_TOO: dict[str, dict[str, frozenset[str] | None]] = {
    "en": {"too": None},
    "de": {"zu": frozenset(_words("viel etwas bisschen ist sind war waren echt deutlich"))},
    "da": {"for": frozenset(_words("alt lidt er var blev bliver"))},
    "fr": {"trop": None},
    "es": {"demasiado": None, "demasiada": None},
    "nl": {"te": frozenset(_words("veel wat iets is zijn was waren echt"))},
    "sv": {"för": frozenset(_words("alldeles lite är var blir blev")), "alltför": None},
}


def _literal_prefixes(pattern: str) -> tuple[str, ...] | None:
    """For each top-level alternative of ``pattern``, the literal text it starts with
    (after ``\\b`` and ``(?:^|\\s)``); None when some alternative starts with none.

    A text that contains none of them cannot match. Written for the marker patterns
    above: alternatives of words, spaces and optional characters.
    """
    alternatives: list[str] = []
    depth, start = 0, 0
    for i, char in enumerate(pattern):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            alternatives.append(pattern[start:i])
            start = i + 1
    alternatives.append(pattern[start:])
    prefixes = []
    for alt in alternatives:
        alt = alt.removeprefix("(?:^|\\s)").removeprefix("\\b")
        literal = ""
        for char in alt:
            if char in "?*{":
                literal = literal[:-1]  # the character before is optional
                break
            if char in "()[]+|.\\^$":
                break
            literal += char
        if not literal:
            return None
        prefixes.append(literal.lower())
    return tuple(prefixes)


class _Social:
    """Rules for social text on top of a language's lexicon rules: sarcasm markers,
    "too" + adjective, hashtags that end in a sentiment word ("#northwindfail",
    "#EpicWin") and, for English, multi-word phrases."""

    def __init__(
        self,
        lang: str,
        keys: set[str] | frozenset[str],
        valence: Callable[[str], float | None],
        fallback: dict[str, float],
        phrases: dict[str, float] | None = None,
    ) -> None:
        pattern = "|".join(p for p in (_SARCASM_ANY, _SARCASM.get(lang)) if p)
        self.sarcasm = re.compile(pattern, re.IGNORECASE)
        # Literals one of which every marker contains: the regex runs only on the few
        # texts that have one (it costs more than the rest of the social rules).
        self.sarcasm_hints = _literal_prefixes(pattern)
        self.too = _TOO.get(lang, {})
        self.too_words = frozenset(self.too)
        self.keys = keys
        self.valence = valence
        self.fallback = fallback
        self.function_words = function_words(lang)
        self.phrases = phrases or {}
        self.phrase_re = (
            re.compile(" (" + "|".join(map(re.escape, self.phrases)) + ") ")
            if self.phrases
            else None
        )
        # A phrase can match only when its first and its last word are tokens (bare
        # or as a hashtag: the phrases are found in ``joined_bare``); few texts have
        # both, and the test costs a fraction of the regex.
        self.phrase_firsts = frozenset(
            w for p in self.phrases for w in (p.split()[0], "#" + p.split()[0])
        )
        self.phrase_lasts = frozenset(
            w for p in self.phrases for w in (p.split()[-1], "#" + p.split()[-1])
        )
        self.tags: dict[str, float] = {}

    def extra(self, info: TextInfo) -> float:
        """Valence that the social rules add to a text's lexicon total."""
        total = 0.0
        if not self.too_words.isdisjoint(info.words):
            total += self._too(info.tokens)
        if "#" in info.lower:
            total += self._hashtags(info.tokens)
        if (
            self.phrase_re is not None
            and not self.phrase_firsts.isdisjoint(info.words)
            and not self.phrase_lasts.isdisjoint(info.words)
        ):
            # Overlapping phrases: findall over " a b c " consumes the space, so
            # adjacent phrases both count only when a word separates them.
            for phrase in self.phrase_re.findall(info.joined_bare):
                total += self.phrases[phrase]
        return total

    def finish(self, total: float, lower: str) -> float:
        """The total after the whole-text rules.

        A positive total with a sarcasm marker becomes negative. A question with only
        a mild valence is most often a request for information ("Does the Pulse
        support USB-C?"), so that valence is damped.
        """
        if total >= 0:
            hints = self.sarcasm_hints
            hinted = hints is None
            if hints is not None:
                for hint in hints:  # a loop: any() over a generator costs a third more
                    if hint in lower:
                        hinted = True
                        break
            if hinted and self.sarcasm.search(lower) is not None:
                # Sarcasm about brands is nearly always a complaint, even with no
                # sentiment word to flip ("Yeah right, 'premium' build quality").
                return -total if total > 0 else SARCASM_ALONE
        if -QUESTION_MILD < total < QUESTION_MILD and lower.rstrip().endswith("?"):
            return total * QUESTION_DAMP
        return total

    def _too(self, tokens: list[str]) -> float:
        keys = self.keys  # a live set: compounds learned later are in it
        total = 0.0
        n = len(tokens)
        for i, tok in enumerate(tokens):
            if tok not in self.too or i + 1 >= n:
                continue
            before = self.too[tok]
            if before is not None and (i == 0 or tokens[i - 1] not in before):
                continue
            nxt = tokens[i + 1]
            if nxt in keys or nxt in self.function_words or not nxt.isalpha():
                continue
            total += TOO_VALENCE
        return total

    def _hashtags(self, tokens: list[str]) -> float:
        total = 0.0
        for tok in tokens:
            if tok.startswith("#") and len(tok) > 5:
                v = self.tags.get(tok)
                if v is None:
                    v = self.tags[tok] = self._tag_valence(tok[1:])
                total += v
        return total

    def _tag_valence(self, tag: str) -> float:
        # A tag that is a word of the lexicon is scored by the lexicon rules already;
        # otherwise its longest ending that is a word counts ("#northwindfail",
        # "#EpicWin"), if both the ending and what comes before have three letters.
        if self.valence(tag) is not None or tag in self.fallback:
            return 0.0
        if len(self.tags) >= CACHE_LIMIT:
            self.tags.clear()
        for k in range(3, len(tag) - 2):
            end = tag[k:]
            v = self.valence(end)
            if v is None:
                v = self.fallback.get(end)
            if v is not None:
                return v
        return 0.0


# --------------------------------------------------------------------------- facade


class SentimentScorer:
    """Scores analysed texts in [-1, 1]; build one and reuse it (loading costs ~100 ms).

    ``english="social"`` (the default) adds Ground Control's rules for social posts to
    the VADER port: a supplement lexicon of product-talk words (``sentiment_en.txt``),
    negation that stops at a sentence end, emoji valences of our own, sarcasm
    markers, "too" + adjective and hashtags. ``english="vader"`` is the exact port, as
    the ``vaderSentiment`` package scores. The other languages always use the social
    rules.
    """

    def __init__(self, english: str = "social") -> None:
        if english not in ("social", "vader"):
            raise ValueError(f"english must be 'social' or 'vader', not {english!r}")
        self.english = english
        self._en = _Vader()
        lex = self._en.lexicon
        # Emoticons from VADER's lexicon: tokens with no run of two letters (":)", ":D",
        # "<3", ":-/"), which mean the same in every language.
        emoticons = {
            k: v
            for k, v in lex.items()
            if not k.isalnum() and not re.search(r"[^\W\d_]{2}", k) and k == k.lower()
        }
        self._emoticons = emoticons
        self._emoticon_keys = frozenset(emoticons)
        # Each emoji's own valence: its description scored by the English rules.
        self._emoji_valence: dict[str, float] = {}
        for char, description in self._en.emoji.items():
            if len(char) == 1:
                total = sum(self._en.sentiments(description, description.lower()))
                if total:
                    self._emoji_valence[char] = total
        self._emoji_valence.update(_EMOJI_OVERRIDES)
        self._rules: dict[str, _LexiconRules] = {}
        self._social: dict[str, _Social] = {}
        for code, spec in _SPECS.items():
            rules = _LexiconRules(
                _OwnLexicon(f"sentiment_{code}.txt", spec.endings),
                boosters=spec.boosters,
                intensifier_prefixes=spec.prefixes,
                negators=spec.negators,
                contrast=spec.contrast,
                emoticons=emoticons,
                elisions=spec.elisions,
            )
            self._rules[code] = rules
            self._social[code] = _Social(code, rules.keys, rules.lexicon.get, lex)
        self._en_social: _Vader | None = None
        if english == "social":
            supplement = _OwnLexicon("sentiment_en.txt", ())
            social_lex = dict(lex)
            for word, value in supplement.words.items():
                if value == 0:
                    social_lex.pop(word, None)
                else:
                    social_lex[word] = value
            self._en_social = _Vader(social_lex, skip_emoji=frozenset(_EMOJI_OVERRIDES))
            self._social["en"] = _Social(
                "en", self._en_social.keys, social_lex.get, social_lex, supplement.phrases
            )

    @property
    def languages(self) -> frozenset[str]:
        """Languages with a full lexicon; others get emoji and emoticons only."""
        return frozenset({"en", *self._rules})

    def score(self, info: TextInfo, lang: str) -> float:
        """Sentiment of an analysed text in language ``lang`` ("" = unknown), in [-1, 1]."""
        if lang == "en" or lang == "":
            en = self._en_social
            if en is None:
                return self._en.score(info)
            return self._english(en, info)
        rules = self._rules.get(lang)
        text = info.text
        if rules is None:
            return _compound_score(self._emoji_total(text) + self._emoticon_total(info), text)
        total = sum(rules.sentiments(text, info.chunks)) + self._emoji_total(text)
        social = self._social[lang]
        total = social.finish(total + social.extra(info), info.lower)
        return _compound_score(total, text)

    def _english(self, en: _Vader, info: TextInfo) -> float:
        text, lower = en.prepare(info.text, info.lower)
        chunks = info.chunks if text is info.text else lower.split()
        if _SENTENCE_END.search(text) is None:
            total = sum(en.sentiments(text, lower, chunks))
        else:
            # VADER's negation window crosses sentence ends ("... without any
            # questions. Impressed."); here each sentence is scored on its own.
            total = en.sentence_total(text, lower, chunks)
        if not info.text.isascii():
            total += self._override_emoji_total(info.text)
        social = self._social["en"]
        total = social.finish(total + social.extra(info), info.lower)
        return _compound_score(total, text)

    def score_text(self, text: str, lang: str = "auto") -> float:
        """Score a raw text; ``lang="auto"`` detects the language first."""
        info = analyse(text)
        if lang == "auto":
            lang = detect_language(info)
        return self.score(info, lang)

    def lexicon_score(self, info: TextInfo, lang: str) -> float:
        """A plain baseline: the lexicon's valences of the words summed, no rules.

        No negation, boosters, caps, punctuation, emoji or contrast: what the rules of
        :meth:`score` are measured against.
        """
        if lang == "en" or lang == "":
            lex = self._en.lexicon
        else:
            rules = self._rules.get(lang)
            if rules is None:
                return 0.0
            lex = rules.base
        total = sum(lex.get(w, 0.0) for w in info.tokens)
        return round(normalize(total), 4) if total else 0.0

    def _emoticon_total(self, info: TextInfo) -> float:
        emoticons = self._emoticons
        return sum(emoticons[e] for e in self._emoticon_keys.intersection(info.chunks))

    def _override_emoji_total(self, text: str) -> float:
        get = _EMOJI_OVERRIDES.get
        return sum(get(c, 0.0) for c in _MAYBE_EMOJI.findall(text))

    def _emoji_total(self, text: str) -> float:
        if text.isascii():
            return 0.0
        found = _MAYBE_EMOJI.findall(text)
        if not found:
            return 0.0
        if max(found) <= "\xff":
            # Only "©" or "®": a Latin-1 text (German, Danish) counts no emoji. (The
            # test for Latin-1 came first once; it raises for every text with an emoji.)
            try:
                text.encode("latin-1")
                return 0.0
            except UnicodeEncodeError:
                pass
        get = self._emoji_valence.get
        return sum(get(c, 0.0) for c in found)


# A sentence end: '.', '!' or '?' (repeated or not) followed by white space.
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SENTENCE_MARKS = frozenset(".!?")
