"""The query language: parsing, precedence, matching rules, errors, and the tokenizer."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from groundcontrol.query import (
    And,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    Raw,
    Term,
    parse_query,
)
from groundcontrol.text import analyse, tokenize


def matches(query: str, text: str) -> bool:
    return parse_query(query).matches(analyse(text))


# --------------------------------------------------------------------------- tokenizer


def test_tokenizer_lowercases_and_keeps_sigils() -> None:
    assert tokenize("Love the #NorthwindPulse, @Northwind_Support!") == [
        "love",
        "the",
        "#northwindpulse",
        "@northwind_support",
    ]


def test_tokenizer_splits_on_punctuation_and_drops_links() -> None:
    assert tokenize("Northwind's Aero-14 (see https://x.co/a?b=1 or www.nw.com/x)") == [
        "northwind",
        "s",
        "aero",
        "14",
        "see",
        "or",
    ]


def test_tokenizer_handles_unicode_letters_emoji_and_typography() -> None:
    assert tokenize("Größe “super” – Skærm😍fejl… ok") == [
        "größe",
        "super",
        "skærm",
        "fejl",
        "ok",
    ]


def test_tokenizer_normalises_decomposed_accents() -> None:
    decomposed = "Gro\u0308\u00dfe"  # o + combining diaeresis
    assert tokenize(decomposed) == ["größe"]
    assert analyse(decomposed).tokens == ["größe"]


def test_analyse_shares_one_tokenization() -> None:
    info = analyse("Aero 14 #AeroGate @Northwind")
    assert info.tokens == ["aero", "14", "#aerogate", "@northwind"]
    assert info.words == frozenset(info.tokens)
    assert info.joined == " aero 14 #aerogate @northwind "
    assert info.joined_bare == " aero 14 aerogate @northwind "
    assert info.chunks == ["aero", "14", "#aerogate", "@northwind"]


def test_analyse_tokens_equal_tokenize_on_repeat() -> None:
    # The chunk cache must give the same tokens the second time.
    text = "Same text, same tokens: #x @y https://a.b/c 😍 don’t"
    assert analyse(text).tokens == tokenize(text) == analyse(text).tokens


# --------------------------------------------------------------------------- structure


@pytest.mark.parametrize(
    ("query", "tree"),
    [
        ("a OR b c", "(a OR (b AND c))"),
        ("a b OR c", "((a AND b) OR c)"),
        ("a AND b OR c AND d", "((a AND b) OR (c AND d))"),
        ("NOT a b", "(NOT a AND b)"),
        ("NOT (a OR b)", "NOT (a OR b)"),
        ("a -b", "(a AND NOT b)"),
        ("-(a b) c", "(NOT (a AND b) AND c)"),
        ("NOT NOT a", "a"),
        ("(a OR b) (c OR d)", "((a OR b) AND (c OR d))"),
        ('"Aero 14" batter*', '("aero 14" AND batter*)'),
        ("a and b", "(a AND and AND b)"),
        ("a or NOT b", "(a AND or AND NOT b)"),
        ("Not a", "(not AND a)"),
        ("wi-fi", '"wi fi"'),
        ('"single"', "single"),
        ('":("', '":("'),
    ],
)
def test_precedence_and_shapes(query: str, tree: str) -> None:
    assert str(parse_query(query)) == tree


def test_syntax_tree_nodes() -> None:
    root = parse_query('#AeroGate @Northwind "aero 14" swell* -x ":("').root
    assert root == And(
        (
            Term("#aerogate"),
            Term("@northwind"),
            Phrase(("aero", "14")),
            Term("swell", prefix=True),
            Not(Term("x")),
            Raw(":("),
        )
    )
    assert parse_query("a OR b").root == Or((Term("a"), Term("b")))


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    ("query", "text", "expected"),
    [
        # words: whole tokens, any case
        ("northwind", "Loving my NORTHWIND laptop", True),
        ("northwind", "northwinds are blowing", False),
        ("northwind", "Northwind's support replied", True),
        # phrases: consecutive whole tokens
        ('"aero 14"', "My Aero 14 died", True),
        ('"aero 14"', "my aero 145 died", False),
        ('"aero 14"', "aero, 14!", True),
        ('"aero 14"', "14 aero", False),
        ('"aero 14"', "the aero is 14", False),
        ('"customer service"', "Customer Service was great", True),
        # prefixes
        ("batter*", "the battery is swollen", True),
        ("batter*", "Batteries!", True),
        ("batter*", "a batter", True),
        ("batter*", "abattery", False),
        ("batter*", "#BatteryGate", True),
        # hashtags and handles
        ("northwind", "#Northwind rocks", True),
        ("#northwind", "#Northwind rocks", True),
        ("#northwind", "Northwind rocks", False),
        ("northwind", "@northwind help me", False),
        ("@northwind", "@Northwind help me", True),
        ("@northwind", "northwind help me", False),
        ("@northwind", "#northwind help me", False),
        ("#north*", "#NorthwindPulse", True),
        ("#north*", "northwind pulse", False),
        ("@north*", "@northwind_support", True),
        ('"aero 14"', "#Aero 14 is here", True),
        ('"#aero 14"', "aero 14 is here", False),
        ('"#aero 14"', "#aero 14 is here", True),
        # boolean logic
        ("aero battery", "aero with a bad battery", True),
        ("aero battery", "aero with a bad screen", False),
        ("aero AND battery", "battery of the aero", True),
        ("aero OR battery", "just the battery", True),
        ("aero -battery", "aero screen", True),
        ("aero -battery", "aero battery", False),
        ("aero NOT battery", "aero battery", False),
        ("NOT aero", "nothing here", True),
        ("(aero OR pulse) (battery OR screen)", "pulse screen flicker", True),
        ("(aero OR pulse) (battery OR screen)", "pulse keyboard", False),
        # lower-case keywords are words
        ("salt and pepper", "salt and pepper", True),
        ("salt and pepper", "salt pepper", False),
        # raw (no letters): substring, case-insensitive
        ('":("', "broken again :(", True),
        ('":("', "broken again :)", False),
        ("😡", "Support 😡😡", True),
        # links are not text
        ("northwind", "see https://northwind.com/aero", False),
    ],
)
def test_matching(query: str, text: str, expected: bool) -> None:
    assert matches(query, text) is expected


def test_default_config_brand_queries() -> None:
    northwind = parse_query(
        'northwind OR #northwind OR @northwind OR "aero 14" OR #aerogate OR "northwind pulse"'
    )
    battery = parse_query(
        '("aero 14" OR aero OR #aerogate) AND (batter* OR swell* OR charg* OR overheat*)'
    )
    assert northwind.matches_text("My AERO 14 died after a week")
    assert northwind.matches_text("#AeroGate is real")
    assert not northwind.matches_text("Contoso Nimbus 14 review")
    assert battery.matches_text("Aero 14 battery swelling #aerogate")
    assert battery.matches_text("my aero won't charge")
    assert not battery.matches_text("my aero has a great screen")


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty query"),
        ("   ", "empty query"),
        ("(aero OR pulse", "unclosed parenthesis at position 1"),
        ("aero AND (pulse OR x", "unclosed parenthesis at position 10"),
        ("aero)", "unexpected ')' at position 5"),
        (")", "unexpected ')' at position 1"),
        ("()", "empty parentheses at position 1"),
        ("NOT", "expected a term after NOT at position 1"),
        ("aero NOT", "expected a term after NOT at position 6"),
        ("NOT OR a", "expected a term after NOT at position 1"),
        ("aero OR", "expected a term after OR at position 6"),
        ("aero AND", "expected a term after AND at position 6"),
        ("aero OR OR pulse", "expected a term after OR at position 6"),
        ("aero AND OR pulse", "expected a term after AND at position 6"),
        ("OR pulse", "expected a term before OR at position 1"),
        ("(AND pulse)", "expected a term before AND at position 2"),
        ("aero - pulse", "expected a term after '-' at position 6"),
        ('"aero 14', "unclosed quote at position 1"),
        ('aero ""', "empty phrase at position 6"),
        ("ba*ttery", "'*' is only allowed at the end of a word at position 3"),
        ("batt**", "'*' may appear only once, at the end of a word at position 1"),
        ("*", "expected a word before '*' at position 1"),
        ("wi-f*", "'*' must follow a single word at position 1"),
        ("#", "expected a hashtag name after '#' at position 1"),
        ("aero @", "expected a handle name after '@' at position 6"),
        ("(" * 70 + "a" + ")" * 70, "query nested too deeply at position 65"),
    ],
)
def test_errors_name_problem_and_position(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query(query)
    assert str(info.value) == message
    assert isinstance(info.value, ValueError)


def test_error_position_attribute() -> None:
    with pytest.raises(QuerySyntaxError) as info:
        parse_query("aero OR")
    assert info.value.position == 6
    assert info.value.problem == "expected a term after OR"


def test_long_flat_queries_and_not_chains_do_not_recurse() -> None:
    query = parse_query(" OR ".join(f"w{i}" for i in range(5000)))
    assert query.matches_text("w4999")
    assert not query.matches_text("w5000")
    assert parse_query("NOT " * 60 + "a").matches_text("a")


# --------------------------------------------------------------------------- properties

_query_alphabet = st.sampled_from(
    [*'abcAB#@*-"() ', "AND", "OR", "NOT", " AND ", " OR ", " NOT ", "aero", ":(", "é"]
)


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_parse_raises_only_query_syntax_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QuerySyntaxError:
        return
    assert isinstance(query.matches(analyse(text)), bool)


@settings(max_examples=400, deadline=None)
@given(st.lists(_query_alphabet, max_size=25).map("".join), st.text(max_size=40))
def test_parse_round_trips_and_matches_return_bools(source: str, text: str) -> None:
    try:
        query = parse_query(source)
    except QuerySyntaxError as exc:
        assert str(exc)
        return
    again = parse_query(str(query))
    assert again.root == query.root
    info = analyse(text)
    assert query.matches(info) is again.matches(info)
    assert isinstance(query.matches(info), bool)
