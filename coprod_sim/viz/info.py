"""The page's longer words: the Info panel (in the style of NetLogo's Info tab), the levers'
names and help, and the status line, in English and French (added to the catalogue of
:mod:`coprod_sim.viz.i18n`).

Written for a teacher who knows no Python. Numbers on the page come from the model; the
English lever help is the parameter tree's description, so nothing here restates a default.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coprod_sim.names import N_QUINTILES
from coprod_sim.params import Parameters, spec
from coprod_sim.viz.controls import FEEDBACK_KEY, FEEDBACK_OFF, label, lever_keys
from coprod_sim.viz.i18n import MESSAGES, number, percent, t

if TYPE_CHECKING:
    from coprod_sim.model import CoproductionModel

RATIO_FROM_MONTH = 12
"""The richest/poorest ratio is held back for the first year: "took part in the past year"
counts a year, and before that a handful of participants make it jump about."""
RATIO_MIN_PARTICIPANTS = 20

LEVERS_FR = {
    "citizens.efficacy_weight": ("Poids de l'efficacité",
                                 "Effet du sentiment d'efficacité sur l'envie de participer (le facteur le "
                                 "plus fort ; Parrado et al. 2013)"),
    "citizens.feedback_strength": ("Force de la rétroaction",
                                   "Multiplie chaque effet de la participation sur le sentiment d'efficacité "
                                   ": 0 désactive le cercle vertueux"),
    "administration.risk_aversion": ("Prudence des administrations",
                                     "Prudence initiale moyenne des administrations (doute sur la fiabilité "
                                     "des habitants)"),
    "administration.staff_incentives": ("Incitations du personnel",
                                        "Ce qui pousse le personnel à travailler avec les habitants "
                                        "(objectifs, reconnaissance, budget)"),
    "policy.outreach": ("Démarchage", "Qui les administrations invitent à participer chaque mois"),
    "policy.outreach_rate": ("Taux de démarchage",
                             "Invitations par mois, en part des habitants (le budget du démarchage)"),
    "policy.effort_individual": ("Effort (individuel)", "Effort demandé par une tâche individuelle"),
    "policy.effort_group": ("Effort (en groupe)", "Effort demandé par une tâche en groupe"),
    "policy.effort_collective": ("Effort (collectif)", "Effort demandé par une tâche collective"),
    # Levels of involvement and the digital channel
    "policy.codesign_openness": ("Ouverture à la co-conception",
                                 "Part du contrôle que partagent les administrations : lève cette part du "
                                 "tri prudent des offres de co-conception et d'initiative, et invite à "
                                 "co-concevoir"),
    "policy.initiative_support": ("Soutien aux initiatives",
                                  "Soutien aux initiatives citoyennes (subventions, animateurs) : rend les "
                                  "initiatives plus attrayantes et plus souvent réussies"),
    "policy.digital_share": ("Part numérique",
                             "Part des tâches individuelles faisables en ligne (signaler depuis un "
                             "téléphone)"),
}
CHOICES = {
    "en": {"none": "none", "universal": "everyone alike", "targeted_efficacy": "the least confident",
           "targeted_area": "the poorest areas"},
    "fr": {"none": "aucun", "universal": "tout le monde", "targeted_efficacy": "les moins confiants",
           "targeted_area": "les quartiers pauvres"},
}

INFO = {
    "en": """
### What is this?
A small town whose citizens can help produce public services together with the
administration that serves their neighbourhood: sorting waste, joining a parents' group at
school, sitting on a neighbourhood panel. Researchers call this **coproduction**. Each step is
one month; a run lasts {months} months.

### How it works
- Every citizen has a **self-efficacy**: how sure they are that they can make a difference.
  It is the strongest reason people take part.
- Citizens who are confident, skilled, have time to spare and friends who take part are the
  most likely to offer help. {areas}
- The administration accepts or turns away each offer. A cautious (**risk-averse**)
  administration turns more away and prefers citizens who look reliable: often the better-off.
- Taking part can succeed or fail. **Success raises self-efficacy**; failure and being turned
  away lower it. This is the **virtuous cycle**.

### How to read the page
- **The town**: each dot is a citizen, grey lines are friendships, circles are neighbourhoods.
  The squares are the administrations with their caution (0 to 1); a circle's colour says
  which one serves it. Colour the citizens by self-efficacy or by whether they take part.
- **Participants and the rest**: participants' self-efficacy (green), the same people at
  month 0 (dashed) and everyone else (purple). The dashed line already starts high: most of
  the gap was there **before** anyone took part.
- **What taking part does to a person**: citizens taking part for the first time (green)
  against citizens alike (same income fifth, same self-efficacy that month) who had not taken
  part (purple), followed month by month. The gap between these two lines is what taking part
  itself does.
- **Who takes part, by income** and the **concentration index** (0: rich and poor take part
  alike; above 0: the better-off take part more).
- **By level** (the *by income / by level* switch at the top) shows how much say citizens
  have when they take part: most **carry out a task** the administration designed (sorting waste); fewer help
  **design the service** (planning a new skatepark with the town); fewer still **start an
  initiative** the administration then supports (a neighbourhood watch). The note says what
  share of design and initiative work the better-off half of the town does: above 50%, the
  roles with the most say go to the better-off.

### What to notice
**Most of the gap between participants and the rest is selection**: who takes part, not what
taking part did to them. The virtuous cycle is real but small next to it, and it turns
fastest for those who started ahead.

### Things to try
1. Turn the **Virtuous cycle** off, press **Reset**, then play: the first-timers' line falls
   onto the others', yet participants stay far above the rest.
2. Set **Outreach** to *the poorest areas* with a rate of about 0.1: does the poorest fifth
   catch up? Then try *everyone alike* at the same rate.
3. Raise **Staff incentives** or lower the administrations' **caution**: who takes part more?
4. Switch the plots to **by level**, then raise **Codesign openness** (how much control
   administrations share) or **Initiative support**: do more people design or start
   initiatives, and does the better-off half's share of that work go down? Raise the
   administrations' **caution**: do citizens stay in the executor's role?
5. Raise the **Digital share** (tasks that can be done from a phone): more people take part,
   but who? Those online are more often young and better-off.

**Reset** rebuilds the same town with the same luck, so a difference between two runs comes
from the levers you changed.
""",
    "fr": """
### De quoi s'agit-il ?
Une petite ville dont les habitants peuvent produire des services publics avec
l'administration de leur quartier : trier les déchets, rejoindre une association de parents,
siéger dans un conseil de quartier. Les chercheurs appellent cela la **coproduction**. Chaque
pas est un mois ; une simulation dure {months} mois.

### Comment ça marche
- Chaque habitant a un **sentiment d'efficacité** : à quel point il se croit capable de
  changer les choses. C'est la raison la plus forte de participer.
- Les habitants confiants, compétents, disponibles et dont les amis participent proposent le
  plus souvent leur aide. {areas}
- L'administration accepte ou refuse chaque offre. Une administration **prudente** en refuse
  davantage et préfère les habitants qui semblent fiables : souvent les plus aisés.
- Participer peut réussir ou échouer. **Réussir augmente le sentiment d'efficacité** ; échouer
  ou être refusé le diminue. C'est le **cercle vertueux**.

### Comment lire la page
- **La ville** : chaque point est un habitant, les lignes grises des amitiés, les cercles des
  quartiers. Les carrés sont les administrations avec leur prudence (de 0 à 1) ; la couleur
  d'un cercle dit laquelle le sert. Colorez les habitants selon leur sentiment d'efficacité ou
  leur participation.
- **Participants et les autres** : l'efficacité des participants (vert), des mêmes personnes
  au mois 0 (pointillés) et de tous les autres (violet). Les pointillés partent déjà haut :
  l'essentiel de l'écart existait **avant** toute participation.
- **Ce que participer change pour une personne** : les habitants qui participent pour la
  première fois (vert) contre des habitants semblables (même cinquième de revenu, même
  efficacité ce mois-là) qui n'avaient pas participé (violet), suivis mois après mois. L'écart
  entre ces deux lignes est l'effet de la participation elle-même.
- **Qui participe, selon le revenu** et l'**indice de concentration** (0 : riches et pauvres
  participent autant ; au-dessus de 0 : les plus aisés participent plus).
- **Niveau** (le sélecteur *revenu / niveau*, en haut) montre quel pouvoir ont les habitants
  quand ils participent : la plupart **exécutent une tâche** conçue par l'administration (trier
  les déchets) ; moins nombreux sont ceux qui aident à **concevoir le service** (dessiner un
  nouveau skatepark avec la mairie) ; moins encore **lancent une initiative** que
  l'administration soutient ensuite (une vigilance de quartier). La note donne la part du
  travail de conception et d'initiative faite par la moitié la plus aisée de la ville :
  au-dessus de 50 %, les rôles qui donnent le plus de pouvoir vont aux plus aisés.

### À remarquer
**L'essentiel de l'écart entre participants et non-participants est un effet de sélection** :
il tient à qui participe, pas à ce que la participation leur a apporté. Le cercle vertueux
existe, mais il est petit à côté, et il tourne plus vite pour ceux qui partaient devant.

### À essayer
1. Désactivez le **Cercle vertueux**, appuyez sur **Recommencer**, puis lancez : la ligne des
   premières fois rejoint celle des semblables, mais les participants restent loin au-dessus.
2. Réglez le **Démarchage** sur *les quartiers pauvres* avec un taux d'environ 0,1 : le
   cinquième le plus pauvre rattrape-t-il son retard ? Essayez ensuite *tout le monde*.
3. Augmentez les **Incitations du personnel** ou baissez la **prudence** des administrations :
   qui participe davantage ?
4. Passez le sélecteur sur **niveau**, puis augmentez l'**Ouverture à la co-conception** (la
   part du contrôle que partagent les administrations) ou le **Soutien aux initiatives** :
   plus d'habitants conçoivent-ils ou lancent-ils des initiatives, et la part des plus aisés
   dans ce travail baisse-t-elle ? Augmentez la **prudence** des administrations : les
   habitants restent-ils cantonnés à l'exécution ?
5. Augmentez la **Part numérique** (tâches faisables depuis un téléphone) : plus d'habitants
   participent, mais lesquels ? Ceux qui sont en ligne sont plus souvent jeunes et aisés.

**Recommencer** reconstruit la même ville avec le même hasard : une différence entre deux
simulations vient des leviers que vous avez changés.
""",
}
AREAS = {
    "en": {"many": "These are more common in the richer areas (area 1 is the poorest, area {k} the "
                   "richest), where people also have more friends.",
           "one": "This town has a single neighbourhood: on the map the poorest sit at the centre and "
                  "the richest at the edge.",
           "map": "These are more common in the richer areas, where people also have more friends. The "
                  "map shows the town's own {k} neighbourhoods, each citizen inside theirs; an area's "
                  "outline has the colour of the administration that serves it."},
    "fr": {"many": "Ils sont plus nombreux dans les quartiers aisés (le quartier 1 est le plus pauvre, le "
                   "quartier {k} le plus riche), où l'on a aussi plus d'amis.",
           "one": "Cette ville n'a qu'un quartier : sur la carte, les plus pauvres sont au centre et les "
                  "plus riches au bord.",
           "map": "Ils sont plus nombreux dans les quartiers aisés, où l'on a aussi plus d'amis. La carte "
                  "montre les {k} quartiers de la ville, chaque habitant dans le sien ; le contour d'un "
                  "quartier a la couleur de l'administration qui le sert."},
}


def _register() -> None:
    """Add the levers' names and help, the choices and the Info text to the catalogue."""
    for key in lever_keys():
        MESSAGES["en"][f"lever.{key}"] = label(key)
        MESSAGES["en"][f"lever.{key}.help"] = spec(key).description
        if key in LEVERS_FR:
            MESSAGES["fr"][f"lever.{key}"], MESSAGES["fr"][f"lever.{key}.help"] = LEVERS_FR[key]
    for lang, choices in CHOICES.items():
        for value, text in choices.items():
            MESSAGES[lang][f"choice.{value}"] = text
    for lang in INFO:
        MESSAGES[lang]["info"] = INFO[lang]
        MESSAGES[lang]["info.areas.many"] = AREAS[lang]["many"]
        MESSAGES[lang]["info.areas.one"] = AREAS[lang]["one"]
        MESSAGES[lang]["info.areas.map"] = AREAS[lang]["map"]


_register()


def info_markdown(lang: str, areas: int, months: int, on_map: bool = False) -> str:
    """The Info text for a town of ``areas`` neighbourhoods (drawn ``on_map`` from a table with
    geometry) and a run of ``months`` months."""
    sentence = (t("info.areas.map", lang, k=areas) if on_map else t("info.areas.one", lang) if areas == 1
                else t("info.areas.many", lang, k=areas))
    return t("info", lang, areas=sentence, months=months)


def lever_value_text(key: str, value: object, lang: str) -> str:
    """A lever's value as the page writes it."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return number(value, lang, 2)
    if isinstance(value, str):
        return t(f"choice.{value}", lang) if f"choice.{value}" in MESSAGES[lang] else value
    return str(value)


def lever_changes(levers: dict, base: Parameters, lang: str) -> list[str]:
    """The levers in ``levers`` that differ from the scenario ``base``, in plain words."""
    out = []
    if levers.get(FEEDBACK_OFF) and base[FEEDBACK_KEY] != 0.0:
        out.append(t("status.cycle_off", lang))
    for key in lever_keys():
        if key == FEEDBACK_KEY and levers.get(FEEDBACK_OFF):
            continue
        if levers[key] != base[key]:
            out.append(f"{t(f'lever.{key}', lang).lower()} {lever_value_text(key, levers[key], lang)}")
    return out


def status(model: CoproductionModel, levers: dict, base: Parameters, lang: str = "en") -> str:
    """One line on the town now: month, who took part, the gap once it means something, and
    the levers changed."""
    row = model.latest
    month = int(row["step"])
    parts = [t("status.month", lang, month=month)]
    if month > 0:
        parts.append(t("status.took_part", lang, share=percent(row["participation_year"], lang)))
        q1, q5 = row["participation_q1"], row["participation_q5"]
        n_q1 = q1 * model.state.citizens.n / N_QUINTILES
        if month >= RATIO_FROM_MONTH and q1 > 0 and n_q1 >= RATIO_MIN_PARTICIPANTS:
            parts.append(t("status.ratio", lang, ratio=number(q5 / q1, lang, 1)))
        else:
            parts.append(t("status.too_early", lang))
    changed = lever_changes(levers, base, lang)
    parts.append(t("status.as_scenario", lang) if not changed
                 else t("status.changed", lang, levers=", ".join(changed)))
    return " · ".join(parts)
