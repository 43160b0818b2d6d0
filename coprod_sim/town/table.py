"""A town from a table of real neighbourhoods: reading, checking and mapping its columns.

The table (CSV, Parquet, or GeoJSON/GeoPackage with geometry) has one row per neighbourhood;
its columns are documented in docs/your-town.md. The ``town`` group of the parameter tree names
the file, the columns and how the advantage measure maps to the model's advantage scale.
Every mistake is reported with the file, the row and the column (:class:`TableError`, exit 2).
Nothing in a table is executed; GDAL reads only a local regular file.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from coprod_sim.names import LEVELS, MODES
from coprod_sim.params import ParameterError, Parameters, spec
from coprod_sim.town.geometry import adjacency, areas_km2, outside_lonlat

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

TABULAR = (".csv", ".parquet")
GEOMETRIC = (".geojson", ".json", ".gpkg")
MAX_TABLE_BYTES = 256 << 20
MAX_ROWS = 10_000  # as population.n_neighbourhoods allows
MAX_LISTED = 12  # problems listed in one message
OBSERVED = ("participation", *(f"participation_{m}" for m in MODES),
            *(f"participation_{lv}" for lv in LEVELS))
"""Observed participation columns (share of residents active in the past year), optional."""
OPTIONAL = ("name_column", "urban_column", "density_column", "administration_column", "age_column",
            "female_column")
"""Settings naming optional columns: absent is fine, unless the scenario renamed them."""
URBAN_WORDS = {"1": True, "true": True, "yes": True, "urban": True, "y": True,
               "0": False, "false": False, "no": False, "rural": False, "n": False}


class TableError(ParameterError):
    """One or more mistakes in a neighbourhood table; the message names file, row and column."""

    def __init__(self, path: str | Path, problems: list[str]):
        self.path, self.problems = str(path), list(problems)
        shown = problems[:MAX_LISTED]
        more = f"\n  ... and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        if len(problems) == 1:
            text = f"{path}: {problems[0]}"
        else:
            text = f"{path}: {len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in shown) + more
        super().__init__("town.table", text + "\nThe columns are described in docs/your-town.md.")


@dataclass(frozen=True)
class TownTable:
    """A checked neighbourhood table, in the table's row order (neighbourhood k is row k)."""

    path: Path
    ids: tuple[str, ...]
    names: tuple[str, ...]
    population: np.ndarray  # residents (float)
    advantage_raw: np.ndarray  # the measure as given
    advantage: np.ndarray  # on the model's scale, strictly inside (0, 1)
    urban: np.ndarray | None  # bool, None: not given (the synthetic rule draws it)
    administration: np.ndarray | None  # int32 index into administration_labels
    administration_labels: tuple[str, ...]
    age_mean: np.ndarray | None
    female_share: np.ndarray | None
    observed: dict[str, np.ndarray]  # column -> observed rate per neighbourhood (NaN: missing)
    geometry: Any = None  # a GeoSeries, or None without geometry
    adjacency: tuple[np.ndarray, np.ndarray] | None = None  # CSR (indptr, indices) of touching areas

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def n_administrations(self) -> int:
        return len(self.administration_labels) if self.administration is not None else 0


# ============================================================================ reading
def town_table(params: Parameters) -> TownTable | None:
    """The checked table the parameters name (cached), or None for the synthetic town."""
    t = params.town
    if not t.table:
        return None
    path = Path(t.table)
    try:
        stat = path.stat()
    except OSError:
        raise TableError(path, ["no such file (town.table)."]) from None
    settings = tuple(params[f"town.{k}"] for k in SETTINGS)
    return _cached(str(path.resolve()), stat.st_mtime_ns, stat.st_size, settings)


SETTINGS = ("advantage", "advantage_direction", "advantage_scale", "id_column", "name_column",
            "population_column", "urban_column", "density_column", "urban_density",
            "administration_column", "age_column", "female_column")


@functools.lru_cache(maxsize=8)
def _cached(path: str, _mtime: int, _size: int, settings: tuple) -> TownTable:
    return read_town_table(Path(path), dict(zip(SETTINGS, settings, strict=True)))


def read_town_table(path: Path, settings: dict[str, Any]) -> TownTable:
    """Read and check the table at ``path`` with the ``town.*`` settings (without the prefix)."""
    frame, geometry = _read_frame(path)
    checker = _Checker(path, frame)
    t = checker.build(settings)
    if geometry is not None:
        t = _with_geometry(t, geometry, frame, checker, settings)
    return t


def _read_frame(path: Path) -> tuple[pd.DataFrame, Any]:
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix not in TABULAR + GEOMETRIC:
        raise TableError(path, [f"unknown kind of table {suffix!r}: allowed .csv, .parquet, .geojson,"
                                " .json (GeoJSON) or .gpkg (GeoPackage)."])
    if not path.is_file():
        raise TableError(path, ["no such file, or not a regular file (town.table)."])
    if path.stat().st_size > MAX_TABLE_BYTES:
        raise TableError(path, [f"is larger than {MAX_TABLE_BYTES >> 20} MiB: a neighbourhood table has"
                                " one row per neighbourhood."])
    try:
        if suffix == ".csv":
            # ids and labels stay text ("01" is not 1); numbers are converted column by column.
            # The separator is sniffed (',', ';' or tab, as spreadsheets save), a BOM skipped.
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True, sep=None,
                                engine="python", encoding="utf-8-sig")
            _unique_header(path, frame)
            return frame, None
        if suffix == ".parquet":
            return pd.read_parquet(path), None
        import warnings

        import geopandas as gpd  # only tables with geometry need it

        with warnings.catch_warnings():  # a mixed column is left as text, then named row by row
            warnings.simplefilter("ignore", UserWarning)
            g = gpd.read_file(path, engine="pyogrio")
    except TableError:
        raise
    except (ValueError, OSError, UnicodeDecodeError, pd.errors.ParserError) as exc:
        raise TableError(path, [f"cannot be read as a {suffix} table: {exc}"]) from None
    except Exception as exc:  # pyogrio and pyarrow raise their own errors on a corrupt file
        raise TableError(path, [f"cannot be read as a {suffix} table ({type(exc).__name__}: {exc})."]
                         ) from None
    return pd.DataFrame(g.drop(columns=g.geometry.name)), g.geometry


def _unique_header(path: Path, frame: pd.DataFrame) -> None:
    """Refuses a CSV header naming a column twice: pandas would rename the second 'x.1' and
    read the first without a word, whichever of the two the user meant."""
    import pandas as pd

    header = pd.read_csv(path, dtype=str, header=None, nrows=1, keep_default_na=False,
                         skipinitialspace=True, sep=None, engine="python", encoding="utf-8-sig")
    names = [str(v).strip() for v in header.iloc[0].tolist()] if len(header) else []
    twice = sorted({v for v in names if names.count(v) > 1})
    if twice:
        raise TableError(path, [f"line 1 (the header) names column {v!r} {names.count(v)} times; each"
                                " column needs its own name." for v in twice])


class _Checker:
    """Reads columns of a frame, collecting every problem with its row and column."""

    def __init__(self, path: Path, frame: pd.DataFrame):
        self.path, self.frame, self.problems = path, frame, []
        self.csv = path.suffix.lower() == ".csv"  # rows are then also given as lines of the file
        self.columns = [str(c) for c in frame.columns]
        self.label: list[str] = []

    def fail(self, message: str) -> None:
        self.problems.append(message)

    def where(self, i: int, column: str) -> str:
        ident = f"id {self.label[i]!r}" if self.label and self.label[i] else ""
        notes = ", ".join(x for x in (f"line {i + 2}" if self.csv else "", ident) if x)
        return f"row {i + 1}{f' ({notes})' if notes else ''}, column {column!r}"

    def has(self, column: str) -> bool:
        return column in self.columns

    def require(self, column: str, setting: str, what: str) -> bool:
        if self.has(column):
            return True
        found = ", ".join(repr(c) for c in self.columns[:30]) or "none"
        self.fail(f"has no column {column!r} ({what}). Columns found: {found}. Rename the column, or"
                  f" set town.{setting} to the column that holds it.")
        return False

    def numbers(self, column: str, low: float | None, high: float | None, allowed: str,
                missing_ok: bool = False) -> np.ndarray:
        values = self.frame[column].tolist()
        out = np.full(len(values), np.nan)
        for i, v in enumerate(values):
            x = _number(v)
            if x is None:
                if missing_ok and _blank(v):
                    continue
                said = "the cell is empty" if _blank(v) else f"{v!r} is not a number"
                self.fail(f"{self.where(i, column)}: {said}; allowed {allowed}.")
            elif (low is not None and x < low) or (high is not None and x > high):
                self.fail(f"{self.where(i, column)}: {x:g} is out of range; allowed {allowed}.")
            else:
                out[i] = x
        return out

    def texts(self, column: str) -> list[str]:
        return ["" if _blank(v) else str(v).strip() for v in self.frame[column].tolist()]

    def build(self, s: dict[str, Any]) -> TownTable:
        n = len(self.frame)
        if n == 0:
            raise TableError(self.path, ["has no rows: one row per neighbourhood is needed."])
        if n > MAX_ROWS:
            raise TableError(self.path, [f"has {n:,} rows, more than the {MAX_ROWS:,} neighbourhoods"
                                         " allowed."])
        ok = [self.require(s["id_column"], "id_column", "each neighbourhood's unique identifier"),
              self.require(s["population_column"], "population_column", "residents"),
              self.require(s["advantage"], "advantage", "the advantage measure town.advantage names")]
        # an optional column the scenario names explicitly must exist: a misspelt name would
        # otherwise silently fall back to the synthetic town's rule for that attribute
        for key in OPTIONAL:
            if s[key] != spec(f"town.{key}").default and not self.has(s[key]):
                ok.append(self.require(s[key], key, f"the column town.{key} names"))
        if not all(ok):
            raise TableError(self.path, self.problems)
        ids = self._ids(s["id_column"])
        names = self.texts(s["name_column"]) if self.has(s["name_column"]) else list(ids)
        names = [nm or i for nm, i in zip(names, ids, strict=True)]
        population = self.numbers(s["population_column"], 1e-9, None, "a positive number of residents")
        raw = self.numbers(s["advantage"], None, None, "a finite number")
        raw[~np.isfinite(raw)] = np.nan
        urban = self._urban(s)
        admin, labels = self._administrations(s["administration_column"])
        age = (self.numbers(s["age_column"], 18, 90, "a mean adult age in years, 18 to 90")
               if self.has(s["age_column"]) else None)
        female = (self.numbers(s["female_column"], 0, 1, "a share in [0, 1] (write 52% as 0.52)")
                  if self.has(s["female_column"]) else None)
        observed = self._observed(population)
        if self.problems:
            raise TableError(self.path, self.problems)
        advantage = advantage_scale(raw, population, s["advantage_direction"], s["advantage_scale"])
        return TownTable(self.path, tuple(ids), tuple(names), population, raw, advantage, urban, admin,
                         labels, age, female, observed)

    def _ids(self, column: str) -> list[str]:
        ids = self.texts(column)
        seen: dict[str, int] = {}
        for i, v in enumerate(ids):
            if not v:
                self.fail(f"{self.where(i, column)}: the identifier is empty; every neighbourhood needs one.")
            elif v in seen:
                self.fail(f"{self.where(i, column)}: identifier {v!r} is also on row {seen[v] + 1};"
                          " identifiers must be unique.")
            else:
                seen[v] = i
        self.label = ids
        return ids

    def _urban(self, s: dict[str, Any]) -> np.ndarray | None:
        if self.has(s["urban_column"]):
            col = s["urban_column"]
            out = np.zeros(len(self.frame), dtype=bool)
            for i, v in enumerate(self.frame[col].tolist()):
                word = str(v).strip().lower()
                word = word[:-2] if word.endswith(".0") else word
                if word not in URBAN_WORDS:
                    self.fail(f"{self.where(i, col)}: {v!r} is not an urban flag; allowed 1/0, true/false,"
                              " yes/no, urban/rural.")
                else:
                    out[i] = URBAN_WORDS[word]
            return out
        if self.has(s["density_column"]):
            density = self.numbers(s["density_column"], 0, None, "residents per km2, 0 or more")
            return density >= s["urban_density"]
        return None

    def _administrations(self, column: str) -> tuple[np.ndarray | None, tuple[str, ...]]:
        if not self.has(column):
            return None, ()
        names = self.texts(column)
        for i, v in enumerate(names):
            if not v:
                self.fail(f"{self.where(i, column)}: empty; name the administration that serves it.")
        labels = tuple(dict.fromkeys(v for v in names if v))  # in order of first appearance
        if len(labels) > 100:
            self.fail(f"column {column!r} names {len(labels)} administrations, more than the 100 allowed.")
        index = {v: j for j, v in enumerate(labels)}
        return np.array([index.get(v, 0) for v in names], dtype=np.int32), labels

    def _observed(self, population: np.ndarray) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for col in OBSERVED:
            if self.has(col):
                out[col] = self.numbers(col, 0, 1, "a share of residents in [0, 1] (write 12% as 0.12),"
                                        " or an empty cell", missing_ok=True)
        counts = "participants"
        if self.has(counts):
            if "participation" in out:
                self.fail("has both 'participation' (a rate) and 'participants' (a count): give one.")
            else:
                c = self.numbers(counts, 0, None, "a count of participants, 0 or more, or an empty cell",
                                 missing_ok=True)
                for i in np.flatnonzero(c > population):
                    self.fail(f"{self.where(int(i), counts)}: {c[i]:g} participants is more than the"
                              f" population ({population[i]:g}).")
                out["participation"] = c / population
        return out


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or str(v).strip() == ""


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or _blank(v):
        return None
    try:
        x = float(str(v).strip()) if isinstance(v, str) else float(v)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def advantage_scale(raw: np.ndarray, population: np.ndarray, direction: str, scale: str) -> np.ndarray:
    """The advantage measure on the model's scale, strictly inside (0, 1).

    With K neighbourhoods and x the measure (negated when higher means deprived):
    'rank' gives (r + 1/2) / K, r the rank from 0 (ties share their mean rank), like the
    synthetic town's evenly spaced gradient; 'population_rank' gives the share of the town's
    residents living in less advantaged neighbourhoods plus half of the neighbourhood's own
    (its population percentile; ties share theirs); 'linear' gives
    1/(2K) + (1 - 1/K) (x - min) / (max - min), the measure's own spacing.
    """
    from scipy.stats import rankdata

    x = -raw if direction == "higher_is_deprived" else raw
    k = len(x)
    if k == 1 or np.ptp(x) == 0:
        return np.full(k, 0.5)
    if scale == "rank":
        return (rankdata(x) - 0.5) / k
    if scale == "linear":
        return 0.5 / k + (1 - 1 / k) * (x - x.min()) / np.ptp(x)
    order = np.argsort(x, kind="stable")
    w = population[order] / population.sum()
    mid = np.empty(k)
    mid[order] = np.cumsum(w) - w / 2
    # ties: the population-weighted mean of their midpoints
    _, group = np.unique(x, return_inverse=True)
    mean = np.bincount(group, mid * population) / np.bincount(group, population)
    return mean[group]


# ============================================================================ geometry
def _with_geometry(t: TownTable, geometry, frame, checker: _Checker, s: dict[str, Any]) -> TownTable:
    import dataclasses

    problems = []
    for i, g in enumerate(geometry):
        if g is None or g.is_empty:
            problems.append(f"row {i + 1} (id {t.ids[i]!r}), column 'geometry': empty geometry.")
        elif g.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(f"row {i + 1} (id {t.ids[i]!r}), column 'geometry': a {g.geom_type}; allowed"
                            " a Polygon or MultiPolygon (the neighbourhood's area).")
    if not problems:
        problems = outside_lonlat(geometry, t.ids)
    if problems:
        raise TableError(t.path, problems)
    urban = t.urban
    if urban is None:  # density from the areas
        area_km2 = areas_km2(geometry)
        urban = t.population / np.maximum(area_km2, 1e-9) >= s["urban_density"]
    return dataclasses.replace(t, urban=urban, geometry=geometry, adjacency=adjacency(geometry))


def town_geometry(params: Parameters) -> gpd.GeoDataFrame | None:
    """The town's neighbourhoods as a GeoDataFrame (row k is neighbourhood k), or None.

    Columns: neighbourhood (index used in the outputs), id, name, population, advantage (model
    scale), urban, geometry. For maps: the run's per-neighbourhood rows join on 'neighbourhood'.
    """
    t = town_table(params)
    if t is None or t.geometry is None:
        return None
    import geopandas as gpd

    return gpd.GeoDataFrame({"neighbourhood": np.arange(len(t)), "id": list(t.ids), "name": list(t.names),
                             "population": t.population, "advantage": t.advantage, "urban": t.urban},
                            geometry=t.geometry.values, crs=t.geometry.crs)
