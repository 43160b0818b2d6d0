"""The page's words in English and French: one catalogue of Python dicts, one ``t()``.

Every string the page or its figures show comes from :data:`MESSAGES` (the Info panel's long
text from :mod:`coprod_sim.viz.info`, which registers it here); a test checks that every key
has both languages with the same ``{fields}``. The language of a session is the browser's
(``Accept-Language``, :func:`pick_language`) unless ``coprod viz --lang`` or the page's switch
says otherwise. No compile step and no dependency (gettext would need ``.mo`` files built at
install time).
"""

from __future__ import annotations

LANGUAGES = ("en", "fr")
DEFAULT_LANGUAGE = "en"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "title": "Coproduction: the virtuous cycle, and who it leaves behind",
        "tab_title": "Coproduction - teaching page",
        "button.reset": "Reset",
        "button.play": "▶ Play",
        "button.pause": "❚❚ Pause",
        "button.step": "Step",
        "button.levers": "Levers",
        "button.info": "Info",
        "button.close": "Close",
        "button.language": "Français",
        "speed": "Speed",
        "speed.slow": "slow",
        "speed.normal": "normal",
        "speed.fast": "fast",
        "finished": "Run finished at month {month}: press Reset to start again.",
        "levers.intro": "Move a lever, then press Reset: the same town, with the same luck, starts again "
                        "with the new value.",
        "levers.changed": "Changed since the last Reset: press Reset to use them.",
        "lever.cycle": "Virtuous cycle",
        "lever.cycle.help": "Off sets the feedback strength to 0: taking part no longer changes anyone's "
                            "self-efficacy. Compare a run with it and one without it, from the same town.",
        "lever.allowed": "Allowed: {allowed}.",
        "status.month": "Month {month}",
        "status.took_part": "{share} took part in the past year",
        "status.ratio": "the richest fifth {ratio} times as often as the poorest",
        "status.too_early": "too early to compare rich and poor (wait a year)",
        "status.as_scenario": "levers as at the start",
        "status.changed": "changed: {levers}",
        "status.cycle_off": "virtuous cycle off",
        "colour.self-efficacy": "self-efficacy",
        "colour.taking part": "taking part",
        "colour_by": "Colour citizens by",
        "notice.scaled": "This scenario has {scenario} citizens; the page shows a town of {shown} with the "
                         "same make-up (the page draws every citizen).",
        "notice.one_area": "This town has a single neighbourhood: citizens are drawn on a disc, the poorest "
                           "at the centre and the richest at the edge.",
        "town.title": "Month {month}: {n} citizens, {areas}",
        "town.areas.one": "one neighbourhood",
        "town.areas.many": "{k} neighbourhoods",
        "town.area": "area {j}",
        "town.poorest": "poorest",
        "town.richest": "richest",
        "town.admin": "administration {name}",
        "town.admin_risk": "caution {value}",
        "town.efficacy_key": "self-efficacy (0 = \"I can't change anything\", 1 = confident)",
        "town.part.none": "not in the past year",
        "town.part.year": "took part, past year",
        "town.part.mode": "this month: {mode}",
        "mode.individual": "individual",
        "mode.group": "group",
        "mode.collective": "collective",
        "chart.month": "month",
        "chart.efficacy.title": "Self-efficacy: participants and the rest",
        "chart.efficacy.ylabel": "mean self-efficacy",
        "chart.efficacy.now": "took part (past year)",
        "chart.efficacy.start": "the same, month 0",
        "chart.efficacy.others": "everyone else",
        "chart.cycle.title": "What taking part does to a person",
        "chart.cycle.xlabel": "months since their first time",
        "chart.cycle.ylabel": "change in self-efficacy",
        "chart.cycle.first": "first-timers",
        "chart.cycle.matched": "alike, not yet",
        "chart.cycle.effect": "effect by month {months}: {effect}",
        "chart.cycle.wait": "waiting for first-timers...",
        "chart.quintiles.title": "Who takes part, by income fifth",
        "chart.quintiles.ylabel": "took part, past year",
        "chart.concentration.title": "Concentrated among the better-off?",
        "chart.concentration.ylabel": "concentration index",
        "chart.concentration.line": "above 0: the better-off take part more",
        "chart.levels.title": "Who takes part, by level of involvement",
        "chart.levels.ylabel": "took part, past year",
        "chart.levels.note": "better-off half: {share} of design, initiatives",
        "chart.levels.wait": "design, initiatives: too few yet",
        "level.executor": "carry out a task",
        "level.designer": "design the service",
        "level.initiator": "start an initiative",
        "who.quintiles": "by income",
        "who.levels": "by level",
        "quintile.0": "poorest",
        "quintile.1": "2nd",
        "quintile.2": "middle",
        "quintile.3": "4th",
        "quintile.4": "richest",
        "lesson.gap": "Participants' self-efficacy is {gap} above everyone else's; taking part itself added "
                      "{effect} after {months} months. Most of the gap is who takes part (selection), "
                      "not what taking part did.",
        "lesson.wait": "The plot on the right of the first row separates what taking part does from who "
                       "takes part: wait for the first year.",
        "classroom.teacher": "Teacher's page: students open {url} (or scan the code).",
        "classroom.count": "Students connected: {n} (at most {cap}).",
        "classroom.full": "The class is full ({cap} towns open). Close a tab you no longer use, or ask the "
                          "teacher.",
        "classroom.idle": "This town was put away after {minutes} minutes without use: press Reset to build "
                          "it again.",
        "number.decimal": ".",
    },
    "fr": {
        "title": "Coproduction : le cercle vertueux, et ceux qu'il laisse de côté",
        "tab_title": "Coproduction - page pédagogique",
        "button.reset": "Recommencer",
        "button.play": "▶ Lecture",
        "button.pause": "❚❚ Pause",
        "button.step": "Un mois",
        "button.levers": "Leviers",
        "button.info": "Infos",
        "button.close": "Fermer",
        "button.language": "English",
        "speed": "Vitesse",
        "speed.slow": "lente",
        "speed.normal": "normale",
        "speed.fast": "rapide",
        "finished": "Fin de la simulation au mois {month} : appuyez sur Recommencer pour repartir.",
        "levers.intro": "Déplacez un levier, puis appuyez sur Recommencer : la même ville, avec le même "
                        "hasard, repart avec la nouvelle valeur.",
        "levers.changed": "Modifié depuis le dernier départ : appuyez sur Recommencer pour l'appliquer.",
        "lever.cycle": "Cercle vertueux",
        "lever.cycle.help": "Désactivé, la force de la rétroaction passe à 0 : participer ne change plus le "
                            "sentiment d'efficacité de personne. Comparez deux simulations de la même ville, "
                            "avec et sans.",
        "lever.allowed": "Valeurs permises : {allowed}.",
        "status.month": "Mois {month}",
        "status.took_part": "{share} ont participé dans l'année",
        "status.ratio": "le cinquième le plus riche {ratio} fois plus que le plus pauvre",
        "status.too_early": "trop tôt pour comparer riches et pauvres (attendez un an)",
        "status.as_scenario": "leviers comme au départ",
        "status.changed": "modifié : {levers}",
        "status.cycle_off": "cercle vertueux désactivé",
        "colour.self-efficacy": "sentiment d'efficacité",
        "colour.taking part": "participation",
        "colour_by": "Couleur des habitants",
        "notice.scaled": "Ce scénario compte {scenario} habitants ; la page montre une ville de {shown} "
                         "habitants de même composition (la page dessine chaque habitant).",
        "notice.one_area": "Cette ville n'a qu'un quartier : les habitants sont dessinés sur un disque, les "
                           "plus pauvres au centre et les plus riches au bord.",
        "town.title": "Mois {month} : {n} habitants, {areas}",
        "town.areas.one": "un seul quartier",
        "town.areas.many": "{k} quartiers",
        "town.area": "quartier {j}",
        "town.poorest": "le plus pauvre",
        "town.richest": "le plus riche",
        "town.admin": "administration {name}",
        "town.admin_risk": "prudence {value}",
        "town.efficacy_key": "sentiment d'efficacité (0 = « je n'y peux rien », 1 = confiant)",
        "town.part.none": "pas dans l'année",
        "town.part.year": "a participé dans l'année",
        "town.part.mode": "ce mois-ci : {mode}",
        "mode.individual": "individuel",
        "mode.group": "en groupe",
        "mode.collective": "collectif",
        "chart.month": "mois",
        "chart.efficacy.title": "Efficacité : participants et les autres",
        "chart.efficacy.ylabel": "efficacité moyenne",
        "chart.efficacy.now": "ont participé (année)",
        "chart.efficacy.start": "les mêmes, mois 0",
        "chart.efficacy.others": "tous les autres",
        "chart.cycle.title": "Ce que participer change",
        "chart.cycle.xlabel": "mois depuis la première fois",
        "chart.cycle.ylabel": "variation de l'efficacité",
        "chart.cycle.first": "premières fois",
        "chart.cycle.matched": "semblables, pas encore",
        "chart.cycle.effect": "effet au mois {months} : {effect}",
        "chart.cycle.wait": "en attente des premières fois...",
        "chart.quintiles.title": "Qui participe, par cinquième de revenu",
        "chart.quintiles.ylabel": "ont participé (année)",
        "chart.concentration.title": "Concentrée chez les plus aisés ?",
        "chart.concentration.ylabel": "indice de concentration",
        "chart.concentration.line": "au-dessus de 0 : les plus aisés participent plus",
        "chart.levels.title": "Qui participe, par niveau d'implication",
        "chart.levels.ylabel": "ont participé (année)",
        "chart.levels.note": "moitié aisée : {share} conception, initiatives",
        "chart.levels.wait": "conception, initiatives : trop peu encore",
        "level.executor": "exécuter une tâche",
        "level.designer": "concevoir le service",
        "level.initiator": "lancer une initiative",
        "who.quintiles": "revenu",
        "who.levels": "niveau",
        "quintile.0": "le plus pauvre",
        "quintile.1": "2e",
        "quintile.2": "milieu",
        "quintile.3": "4e",
        "quintile.4": "le plus riche",
        "lesson.gap": "L'efficacité des participants dépasse de {gap} celle des autres ; participer l'a "
                      "augmentée de {effect} en {months} mois. L'essentiel de l'écart vient de qui participe "
                      "(sélection), pas de ce que la participation a produit.",
        "lesson.wait": "Le graphique à droite de la première ligne sépare ce que produit la participation de "
                       "qui participe : attendez la première année.",
        "classroom.teacher": "Page de l'enseignant : les élèves ouvrent {url} (ou scannent le code).",
        "classroom.count": "Élèves connectés : {n} (au plus {cap}).",
        "classroom.full": "La classe est complète ({cap} villes ouvertes). Fermez un onglet inutile, ou "
                          "demandez à l'enseignant.",
        "classroom.idle": "Cette ville a été rangée après {minutes} minutes sans usage : appuyez sur "
                          "Recommencer pour la reconstruire.",
        "number.decimal": ",",
    },
}


def t(key: str, lang: str, **fields: object) -> str:
    """The message ``key`` in ``lang`` with ``fields`` filled in (pass counts through
    :func:`count` and decimals through :func:`number`, which write them the language's way)."""
    text = MESSAGES[lang][key]
    return text.format(**fields) if fields else text


def count(n: int, lang: str) -> str:
    """A whole number with thousands grouped: ``1,000`` in English, ``1 000`` in French."""
    return f"{n:,}" if lang == "en" else f"{n:,}".replace(",", "\u202f")


def number(value: float, lang: str, decimals: int = 2, sign: bool = False) -> str:
    """``value`` with ``decimals`` decimals and the language's decimal mark."""
    text = f"{value:+.{decimals}f}" if sign else f"{value:.{decimals}f}"
    return text.replace(".", MESSAGES[lang]["number.decimal"])


def percent(share: float, lang: str) -> str:
    """A share as a whole percentage: ``12%`` in English, ``12 %`` in French."""
    return f"{share:.0%}" if lang == "en" else f"{share * 100:.0f}\u202f%"


def pick_language(accept_language: str | None) -> str:
    """The first of our languages in an HTTP ``Accept-Language`` value (q-values honoured),
    or English."""
    ranked = []
    for i, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        ranked.append((-q, i, tag.strip().lower().split("-")[0]))
    for _, _, lang in sorted(ranked):
        if lang in LANGUAGES:
            return lang
    return DEFAULT_LANGUAGE
