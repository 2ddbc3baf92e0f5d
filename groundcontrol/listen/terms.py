"""Terms of a mention for the hot-topics panel: its hashtags and salient words.

A term is a hashtag (lower case, with its ``#``) or a word that is at least three
characters long, not a number, not a handle, and not a stopword of the mention's
language. Links never reach here (:mod:`groundcontrol.text` drops them). Terms keep
their order of first appearance, without repeats, at most :data:`MAX_TERMS`.

Stopword lists hold function words plus words that carry no topic in posts about
products ("good", "really", "thanks", "lol"): a word that is in every other post
would crowd real topics out of the panel. When the language is unknown, the union
of all lists applies.
"""

from __future__ import annotations

from groundcontrol.text import TextInfo

__all__ = ["GENERIC", "MAX_TERMS", "STOPWORDS", "extract_terms", "meaningful"]

#: Most terms kept per mention.
MAX_TERMS = 12

_COMMON = """http https www com org net html amp via rt lol lmao omg wtf pls plz thx
    ok okay yes yeah yep nope hey hi hello wow haha hahaha xd"""

_STOP = {
    "en": """a about above after again against all almost also always am an and any
        anyone anything are aren around as at be because been before being below
        between both but by can cannot could couldn did didn do does doesn doing don
        down during each either else even ever every everyone everything few for
        from further get gets getting got had hadn has hasn have haven having he her
        here hers herself him himself his how however i if im in into is isn it its
        itself ive just know let like ll make made many may me might more most much
        must my myself need needs neither never new no nor not now of off often on
        once one only or other others our ours ourselves out over own per please
        pretty probably quite rather re really said same say says see seems shall
        she should shouldn since so some someone something still such sure than
        thank thanks that the their theirs them themselves then there these they
        thing things think this those though through thus to today too under until
        up upon us use used using ve very via want was wasn way we well were weren
        what whatever when where whether which while who whom whose why will with
        within without won would wouldn yet you your yours yourself yourselves
        good great bad best better nice love lot lots got going gonna wanna""",
    "de": """aber alle allem allen aller alles als also am an ander andere anderen
        auch auf aus bei beim bin bis bist bitte da dabei dadurch dafür damit dann
        daran darauf darum das dass dein deine dem den denn der des deshalb dich die
        dies diese diesem diesen dieser dieses dir doch dort du durch eben echt
        eigentlich ein eine einem einen einer eines einfach endlich er es etwas euch
        euer fast für gar gegen geht gibt gerade gut habe haben hab hat hatte hätte
        heute hier ich ihm ihn ihnen ihr ihre im immer in ins ist ja jede jeder jetzt
        kann kein keine keinen können könnte leider mal man mehr mein meine meinem
        meinen meiner mich mir mit muss müssen nach nein nicht nichts noch nun nur
        ob oder ohne schon sehr sein seine sich sie sind so soll sollte sondern
        sonst total über um und uns unser unter viel vom von vor war waren warum
        was weil weiter welche wenn wer werde werden wie wieder will wir wird wirklich
        wo wurde würde zu zum zur zwar zwischen danke gute guten super toll neue neuen""",
    "da": """af alle allerede alt altid altså andre at bare blev blive bliver da de
        dem den denne der deres det dette dig din dine dog du efter eller en end
        endnu er et for fordi fra får gør god godt gik gjorde ham han hans har have
        havde hele helt hende hendes her hos hun hvad hvem hver hvis hvor hvordan
        hvorfor hvornår i igen ikke ind ingen jeg jer jo kan kom kommer kun kunne
        lidt lige man mange med meget men mere mest mig min mine mit mod måske ned
        nej noget nogen nogle nok nu når og også om op os over på rigtig selv sig
        sin sine sit skal skulle som stadig så sådan synes tak til under ud var
        vel vi vil ville være været vores ja jo sgu fedt super nye ny""",
    "sv": """alla allt alltid andra att av bara blev bli blir borde bra då där de
        dem den denna deras dess det detta dig din dina ditt du efter eftersom eller
        en ett fick finns fortfarande från får för genom ha hade han hans har hela
        helt henne hennes hit hon honom hur här i igen ingen inget inte jag ju kan
        kanske kommer kunde man med mellan men mer mig min mina mitt mot mycket ni
        nu när någon något några och också om oss redan sedan sig sin sina sitt
        själv ska skulle som så sådan tack till under upp ut utan vad var vara
        varför varit vars vem vi vid vill våra vår än är över nya""",
    "no": """alle allerede alt andre at av bare ble bli blir da de dem den denne
        deres det dette deg din dine du eller en enn er et etter for fordi fra får
        gjør ha hadde han hans har hele helt henne hun hva hvem hvis hvor hvordan
        hvorfor i igjen ikke ikkje ingen jeg kan kanskje kom kommer kunne man mange
        med meg men mer min mine mitt mye nei noe noen nå når og også om opp oss
        over på seg selv sin skal skulle som så takk til ut var veldig vi vil ville
        være vært vår våre ja""",
    "nl": """aan al alle alleen als altijd ben bij daar dan dat de deze die dit doch
        doen door dus echt een eens en er ga gaat gewoon had heb hebben heeft hem
        het hier hij hoe hun ik in is ja je jij jou jouw kan kon kunnen maar me meer
        men met mij mijn moet na naar nee niet niets niks nog nooit nu of om omdat
        ons onze ook op over te tegen toch tot u uit van veel voor waarom want was
        wat we wel werd wie wij wil worden wordt zal ze zelf zich zij zijn zo zonder
        zou heel erg goed leuk nieuwe""",
    "fr": """ai aie aient aux avec avez avoir avons bien ce ceci cela celle celui ces
        cet cette chez comme comment dans de des donc du elle elles en encore est et
        été être eu fait faire il ils je jamais la le les leur leurs lui ma mais me
        même mes moi moins mon ne ni non nos notre nous on ont ou où par pas peu
        peut plus pour pourquoi qu que quel quelle qui quand rien sa sans se ses si
        son sont sur ta te tes toi ton tous tout toute toutes très trop tu un une
        vos votre vous vraiment ça oui merci déjà aussi alors après avant bon""",
    "es": """al algo algunos ante antes como con contra cual cuando de del desde
        donde durante el ella ellas ellos en entre era es esa esas ese eso esos esta
        está están estas este esto estos estoy fue fueron ha hay hasta la las le les
        lo los más me mi mis mucho muy nada ni no nos nosotros nunca o otra otro para
        pero poco por porque que qué se ser si sí siempre sin sobre son soy su sus
        también tan te tengo tiene todo todos tu tus un una uno unos ya yo gracias
        bien bueno muy""",
    "it": """a ad al alla alle anche ancora che chi ci come con da dal dalla dei del
        della di e è ed gli ha hanno ho i il in io la le lei lo loro lui ma mi mia
        mio molto ne nel nella non noi o per perché più poi questa questo se si sono
        su sua suo ti tra tu tutto un una uno voi già grazie""",
    "pt": """a ao aos as até com como da das de dele do dos e é ela ele eles em entre
        era essa esse esta este eu foi for há isso isto já lhe mais mas me meu minha
        muito na nas não nem no nos nós o os ou para pela pelo por porque quando que
        se sem ser seu sua são também te tem tenho um uma você obrigado obrigada""",
}

#: Stopwords per language code; "" maps to the union of all of them.
STOPWORDS: dict[str, frozenset[str]] = {
    lang: frozenset((words + " " + _COMMON).split()) for lang, words in _STOP.items()
}
STOPWORDS[""] = frozenset().union(*STOPWORDS.values())


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Marks people put on their own posts when they fix them: never a topic.
EDIT_MARKERS = _words(
    """
    edit edited edits editing eta upd update updated updates typo typos fixed fix
    correction corrected sic ninja oops whoops
    """
)

#: Words that are in the talk about every product, so a burst of one of them alone says
#: nothing: "hub" in "USB-C hub" launch posts is not our hub failing. They still count in
#: a story with other words; alone, they are no topic signal.
GENERIC = _words(
    """
    hub app apps device devices product products thing stuff new old update price
    prices deal deals sale launch launched release released version model review
    reviews video videos post posts thread news article story today tonight tomorrow
    yesterday day days week weeks month year time times people guy guys man woman
    friend team company brand customer customers service support issue issues
    problem problems question help work works working phone laptop laptops computer
    screen monitor monitors cable port ports usb box order orders shipping delivery
    store shop online website site link check look looks first last next back free
    big small little right left want need keep come comes came going go goes give
    get got make makes made buy bought use uses year's lol report reports reported
    says said saying user users owner owners fan fans
    """
)

#: Most tokens a decision cache holds before it starts over (bounds memory).
CACHE_LIMIT = 200_000


class _IsTerm(dict[str, bool]):
    """Token -> whether it is a term in one language. Tokens repeat across posts
    all the time, so ``filter(cache.__getitem__, tokens)`` decides in a C-level pass."""

    def __init__(self, stop: frozenset[str]) -> None:
        super().__init__()
        self.stop = stop

    def __missing__(self, token: str) -> bool:
        if len(self) >= CACHE_LIMIT:
            self.clear()
        is_term = self[token] = (
            len(token) > 2
            and token[0] != "@"
            and token[-1] not in "#@"
            and not token.isdigit()
            and token not in self.stop
        )
        return is_term


_IS_TERM = {lang: _IsTerm(words) for lang, words in STOPWORDS.items()}


def extract_terms(info: TextInfo, lang: str) -> list[str]:
    """Hashtags and salient words of an analysed text, in order, at most MAX_TERMS."""
    is_term = _IS_TERM.get(lang)
    if is_term is None:  # not `or`: an empty cache is falsy
        is_term = _IS_TERM[""]
    return list(dict.fromkeys(filter(is_term.__getitem__, info.tokens)))[:MAX_TERMS]


def meaningful(term: str) -> bool:
    """Whether a term can stand for a story on its own: a hashtag, or a word that is
    no stopword in any language, no edit or typo marker and not a generic word."""
    word = term.lstrip("#").lower()
    if not word or len(word) < 3 or word.isdigit():
        return False
    if word in STOPWORDS[""] or word in EDIT_MARKERS:
        return False
    return term.startswith("#") or word not in GENERIC
