"""The page's words: the Info panel (in the style of NetLogo's Info tab) and the status line.

Written for a teacher who knows no Python: what the model is, how it works, what to notice,
things to try. Numbers on the page come from the model; nothing here restates a parameter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from coprod_sim.params import Parameters
from coprod_sim.viz.controls import FEEDBACK_KEY, label, lever_keys

if TYPE_CHECKING:
    from coprod_sim.model import CoproductionModel

TITLE = "Coproduction: the virtuous cycle, and who it leaves behind"

INFO = """
### What is this?
A small town whose citizens can help produce public services together with the
administration that serves their neighbourhood: sorting waste, joining a parents' group at
school, sitting on a neighbourhood panel. Researchers call this **coproduction**. Each step is
one month.

### How it works
- Every citizen has a **self-efficacy**: how sure they are that they can make a difference.
  It is the strongest reason people take part.
- Citizens who are confident, skilled, have time to spare and friends who take part are the
  most likely to offer help. These are more common in the richer areas (on the map, area 1
  is the poorest and the highest number the richest), where people also have more friends.
- The administration accepts or turns away each offer. A **risk-averse** administration
  turns more away and prefers citizens who look reliable: often the better-off.
- Taking part can succeed or fail. **Success raises self-efficacy**; failure and being turned
  away lower it. This is the **virtuous cycle**: taking part builds confidence, and confidence
  leads to taking part again.
- Administrations grow less cautious after successes and more cautious after failures.

### How to read the page
- **The town**: each dot is a citizen, grey lines are friendships, circles are
  neighbourhoods. The squares in the middle are the administrations; the colour of a
  neighbourhood's circle says which one serves it. Colour the citizens by self-efficacy, or
  by whether they take part.
- **Self-efficacy**: the green line is the people who took part in the past year; the dashed
  line is the same people when they started; the **green band between them is what taking
  part did for them**. The purple line is everyone else.
- **Who takes part, by income**: the share of each fifth of the town, from poorest to
  richest, who took part in the past year.
- **Concentration index**: 0 means rich and poor are equally likely to take part; above 0,
  the better-off take part more.
- **Caution of the administrations**: their average risk aversion, from 0 to 1.

### What to notice
- The green band opens up: participants grow more confident, everyone else does not.
- The richest fifth's line climbs above the poorest fifth's and stays there. The cycle
  turns fastest for those who started ahead, so the gap it creates is a **selection bias**.

### Things to try
1. Tick **Virtuous cycle off**, press **Reset**, then play. The green band disappears: the
   participants' line lies on their starting line. Do fewer people take part? Which fifth
   loses most?
2. Set **Outreach** to *targeted_area* and raise the **Outreach rate** (for example to 0.1):
   invitations go mostly to the poorest areas. Reset and play: does the poorest fifth catch
   up? Does the concentration index fall? Compare with *universal* outreach at the same rate.
3. Raise **Staff incentives** or lower **Risk aversion**: do more people take part, and who?
4. Lower the **Effort** a group or collective task asks (task design).

**Reset** rebuilds the same town with the same luck, so any difference between two runs
comes from the levers you changed. The levers are explained under the controls, on the left.
"""


def lever_changes(params: Parameters, base: Parameters) -> list[str]:
    """The page's levers whose value in ``params`` differs from ``base``, in plain words."""
    out = []
    if params[FEEDBACK_KEY] == 0.0 and base[FEEDBACK_KEY] != 0.0:
        out.append("virtuous cycle off")
    for key in lever_keys():
        if key == FEEDBACK_KEY and params[key] == 0.0:
            continue
        if params[key] != base[key]:
            value = params[key]
            out.append(f"{label(key).lower()} {value:g}" if isinstance(value, float)
                       else f"{label(key).lower()} {value}")
    return out


def status(model: CoproductionModel, base: Parameters) -> str:
    """One line on the town now: month, who took part, the gap, and the levers changed."""
    row = model.latest
    month = int(row["step"])
    parts = [f"Month {month}"]
    if month > 0:
        parts.append(f"{row['participation_year']:.0%} took part in the past year")
        q1, q5 = row["participation_q1"], row["participation_q5"]
        if q1 > 0:
            parts.append(f"the richest fifth {q5 / q1:.1f} times as often as the poorest")
    changed = lever_changes(model.params, base)
    parts.append("levers as in the scenario" if not changed else "changed: " + ", ".join(changed))
    return " · ".join(parts)
