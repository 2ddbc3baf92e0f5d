"""Language detection on labelled, tweet-like sentences written for these tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundcontrol.listen.lang import LANGUAGES, detect_language, detect_text_language
from groundcontrol.text import analyse

EN = [
    "Just got my new Aero 14 and the screen is gorgeous",
    "Why does the Northwind app keep crashing every time I open it?",
    "Honestly the battery life on this laptop is a joke",
    "Can anyone recommend a good charger for the Aero 14?",
    "I love how quiet the fans are, even under load",
    "Support told me they would call back. They never did.",
    "This is the third time my order has been delayed #northwind",
    "@northwind my keyboard stopped working after the update, any fix?",
    "Not sure if I should buy the Pulse or wait for the next one",
    "Been using it for a week now and it's been flawless",
    "The customer service was really helpful, thanks!",
    "What a terrible experience, I want my money back",
    "Is it just me or is the new firmware slower?",
    "Finally upgraded from my old laptop, what a difference",
    "They should have tested this before shipping it",
    "My battery is swelling, is this normal? #aerogate",
    "Great build quality but the speakers are pretty weak",
    "Anyone else having issues with the wifi dropping out?",
    "It arrived two days early and works perfectly",
    "I would not recommend this to anyone, avoid",
    "Does the Pulse work with my phone or do I need an adapter?",
    "So happy with my purchase, best laptop I have owned",
    "The screen flickers when I plug in the charger",
    "We ordered ten of them for the office and all are fine",
    "Well that was a waste of money",
]

DE = [
    "Der Akku von meinem Aero 14 ist nach einem Monat kaputt",
    "Ich bin total begeistert von dem neuen Laptop!",
    "Warum dauert der Versand bei Northwind so lange?",
    "Das Display ist wirklich super, aber die Tastatur klappert",
    "Hat jemand auch Probleme mit dem WLAN nach dem Update?",
    "Nie wieder bestelle ich dort, der Kundenservice ist eine Katastrophe",
    "Endlich ist mein neues Notebook da und es läuft einwandfrei",
    "Kann mir jemand sagen, ob das Ladegerät auch für das Pulse passt?",
    "Der Lüfter ist viel zu laut, das nervt echt",
    "Ich habe den Support angerufen und die waren sehr freundlich",
    "Leider funktioniert die Kamera nicht mehr",
    "Mein Akku ist aufgebläht, ist das gefährlich? #aerogate",
    "Für den Preis ist das Gerät wirklich gut",
    "Schon wieder ein Update, das alles schlimmer macht",
    "Wir haben zehn Stück für das Büro gekauft und sind zufrieden",
    "Das war mein bester Kauf in diesem Jahr",
    "Ich warte seit drei Wochen auf meine Rückerstattung",
    "Gibt es schon Erfahrungen mit dem neuen Northwind Pulse?",
    "Die Verarbeitung ist top, nur der Preis ist etwas hoch",
    "Totaler Schrott, nach zwei Tagen war der Bildschirm schwarz",
    "Ich würde es jederzeit wieder kaufen",
    "Bin echt enttäuscht von der Akkulaufzeit",
    "Was für ein schönes Gerät, ich bin verliebt",
    "Der Händler hat mir sofort ein Ersatzgerät geschickt, danke!",
    "Keine Ahnung warum das Ding dauernd abstürzt",
]

DA = [
    "Min nye Aero 14 er virkelig god, skærmen er fantastisk",
    "Hvorfor tager det så lang tid at få svar fra Northwind?",
    "Batteriet holder ikke en hel dag, det er ret skuffende",
    "Jeg elsker den nye Pulse, den virker bare",
    "Har andre også problemer med wifi efter opdateringen?",
    "Kundeservice var meget hjælpsomme, tak for det",
    "Det er tredje gang min ordre er forsinket #northwind",
    "Jeg kan ikke anbefale den til nogen",
    "Skærmen flimrer når jeg sætter opladeren i",
    "Endelig kom min nye computer, og den kører helt perfekt",
    "Batteriet er begyndt at svulme op, er det farligt? #aerogate",
    "Til den pris er det en rigtig god maskine",
    "Vi har købt ti stykker til kontoret og alle virker fint",
    "Det var en elendig oplevelse, jeg vil have mine penge tilbage",
    "Er det bare mig, eller er den nye firmware langsommere?",
    "Tastaturet gik i stykker efter to uger",
    "Jeg er så glad for min nye bærbare",
    "Nogen der ved om opladeren også passer til Pulse?",
    "Lortet virker ikke, og support svarer ikke",
    "Den bedste computer jeg nogensinde har haft",
    "Blæseren larmer meget, det er virkelig træls",
    "Jeg venter stadig på min refusion efter tre uger",
    "Super hurtig levering og flot emballage",
    "Hvad sker der med opdateringen, den ødelægger alt",
    "Har haft den i en måned nu og er meget tilfreds",
]

OTHERS = [
    ("sv", "Jag är väldigt nöjd med min nya dator, den är jättebra"),
    ("sv", "Varför tar det så lång tid att få svar från kundtjänst?"),
    ("sv", "Batteriet håller inte en hel dag, det är inte okej"),
    ("no", "Jeg er veldig fornøyd med den nye maskinen, den er kjempe bra"),
    ("no", "Hva skjer med oppdateringen? Nå funker ingenting"),
    ("nl", "Ik ben heel blij met mijn nieuwe laptop, echt geweldig"),
    ("nl", "Waarom duurt het zo lang voordat de klantenservice reageert?"),
    ("nl", "De batterij is na een maand al kapot, niet normaal"),
    ("fr", "Je suis très content de mon nouvel ordinateur, il est génial"),
    ("fr", "Pourquoi le service client ne répond jamais ?"),
    ("fr", "La batterie ne tient pas la journée, c'est nul"),
    ("es", "Estoy muy contento con mi nuevo portátil, es genial"),
    ("es", "¿Por qué tarda tanto el servicio de atención al cliente?"),
    ("es", "La batería no dura ni medio día, qué desastre"),
    ("it", "Sono molto contento del mio nuovo portatile, è fantastico"),
    ("pt", "Estou muito feliz com o meu novo portátil, é ótimo"),
]


def _accuracy(lang: str, sentences: list[str]) -> tuple[float, list[tuple[str, str]]]:
    wrong = [(s, got) for s in sentences if (got := detect_text_language(s)) != lang]
    return 1 - len(wrong) / len(sentences), wrong


@pytest.mark.parametrize(("lang", "sentences"), [("en", EN), ("de", DE), ("da", DA)])
def test_accuracy_on_main_languages(lang: str, sentences: list[str]) -> None:
    assert len(sentences) >= 20
    accuracy, wrong = _accuracy(lang, sentences)
    assert accuracy >= 0.95, wrong


@pytest.mark.parametrize(("lang", "sentence"), OTHERS)
def test_other_languages(lang: str, sentence: str) -> None:
    assert detect_text_language(sentence) == lang


def test_all_required_languages_are_known() -> None:
    assert {"en", "de", "da", "fr", "es", "nl", "sv"} <= set(LANGUAGES)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "12345 678",
        "#northwind @contoso",
        "https://example.com/aero-14",
        "🔥🔥🔥",
        "Aero 14",
    ],
)
def test_unsure_without_signals(text: str) -> None:
    assert detect_text_language(text) == ""


def test_danish_and_swedish_are_told_apart_by_function_words() -> None:
    assert detect_text_language("Det er ikke noget jeg har brug for nu") == "da"
    assert detect_text_language("Det är inte något jag behöver nu") == "sv"
    assert detect_text_language("Hvad er det her, meget mærkeligt") == "da"
    assert detect_text_language("Vad är det här, mycket konstigt") == "sv"


def test_letters_decide_when_words_are_shared() -> None:
    # "super" alone is in several lists; the letters settle it.
    assert detect_text_language("Größe super") == "de"
    assert detect_text_language("Señor, muy bien") == "es"


def test_other_scripts() -> None:
    assert detect_text_language("Это отличный ноутбук") == "ru"
    assert detect_text_language("このノートパソコンは最高です") == "ja"
    assert detect_text_language("这台笔记本电脑很好") == "zh"
    assert detect_text_language("이 노트북 정말 좋아요") == "ko"


def test_takes_analysed_text() -> None:
    assert detect_language(analyse("Das ist nicht gut")) == "de"


def test_function_words() -> None:
    from groundcontrol.listen.lang import function_words

    assert {"und", "nicht", "ist"} <= function_words("de")
    assert "så" in function_words("da") and "så" in function_words("sv")
    assert function_words("xx") == frozenset()


@pytest.mark.parametrize(
    ("lang", "floor"),
    [
        ("en", 0.95),
        ("de", 0.93),
        ("da", 0.90),
        ("fr", 0.90),
        ("es", 0.90),
        ("nl", 0.88),
        ("sv", 0.90),
    ],
)
def test_accuracy_on_the_sentiment_fixtures(lang: str, floor: float) -> None:
    # The labelled posts of tests/fixtures/sentiment: short, informal, many with emoji,
    # hashtags and product names. Unsure ("") counts as wrong.
    path = Path(__file__).resolve().parent / "fixtures" / "sentiment" / f"{lang}.tsv"
    texts = [
        line.split("\t", 3)[3]
        for line in path.read_text("utf-8").splitlines()
        if line and not line.startswith(("#", "split\t"))
    ]
    accuracy, wrong = _accuracy(lang, texts)
    assert accuracy >= floor, wrong
