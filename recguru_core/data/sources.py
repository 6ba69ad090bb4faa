"""Source specs -> `CrossDomainData`. The one place that knows the grammar:

    synthetic                              the embedded default world
    synthetic:users=5000,overlap=0.5,seed=1
    csv:PATH_A,PATH_B[,key=value...]       generic CSV/TSV/Parquet (user_id,item_id,timestamp[,rating,title])
    amazon:PATH_A,PATH_B[,meta_a=P,meta_b=P]  Amazon review JSON lines (optionally .gz)
    movielens:DIR                          GroupLens ml-1m / ml-100k or RecBole ml-* files; genre split
    recbole:PATH_A,PATH_B[,item_a=P,item_b=P] RecBole atomic .inter files
    c2dsr:DIR[,split=ours]                 a C2DSR-family CDSR split (Food-Kitchen, Movie-Book, ...):
                                           its interactions under our preprocessing and split

Options for every source (key=value, comma separated, after the paths):
    min_rating=2     keep ratings strictly above this ("none" keeps all)
    start=, end=     time window on timestamps ([start, end))
    repeats=keep     keep immediate repeats (default drops them)
    k_core=5         iterative k-core per domain
    min_user_len=3   minimum interactions per user after the k-core
    overlap=r        keep each overlapped user in both domains with probability r (Table 4)
    max_len=100      model input length N
    negatives=199    sampled evaluation negatives per user
    sampling=popularity|uniform
    data_seed=0      seed of overlap control and negative sampling
Synthetic keys (users, items_a, items_b, clusters, overlap, seed, ...) go to the generator; for
synthetic data `overlap` is the generator's overlap ratio.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..common.config import parse_key_values
from .domains import CrossDomainData, DataConfig
from ..common.errors import DataError
from .preprocess import PreprocessConfig

KINDS = ("synthetic", "csv", "amazon", "movielens", "recbole", "c2dsr")
COMMON_KEYS = ("min_rating", "start", "end", "repeats", "k_core", "min_user_len", "overlap",
               "max_len", "negatives", "sampling", "data_seed")
FILE_KEYS = {"amazon": ("meta_a", "meta_b"), "recbole": ("item_a", "item_b"), "c2dsr": ("split",)}


@dataclass
class SourceSpec:
    kind: str
    paths: list[str] = field(default_factory=list)
    options: dict[str, str] = field(default_factory=dict)
    text: str = ""


def parse_source(text: str) -> SourceSpec:
    kind, _, rest = text.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in KINDS:
        raise DataError(f"unknown source {text!r}: expected one of {', '.join(k + ':…' for k in KINDS)}")
    tokens = [t.strip() for t in rest.split(",") if t.strip()]
    paths = [t for t in tokens if "=" not in t]
    options = parse_key_values([t for t in tokens if "=" in t], f"source {text!r}: option",
                               error=DataError)
    expected_paths = {"synthetic": 0, "movielens": 1, "c2dsr": 1}.get(kind, 2)
    if len(paths) != expected_paths:
        shape = {0: "no paths", 1: "one directory", 2: "two paths, domain A then domain B"}[expected_paths]
        raise DataError(f"source {text!r}: {kind} takes {shape}, got {len(paths)}")
    if kind != "synthetic":
        allowed = COMMON_KEYS + FILE_KEYS.get(kind, ())
        unknown = sorted(set(options) - set(allowed))
        if unknown:
            raise DataError(f"source {text!r}: unknown option {unknown[0]!r}; valid: {', '.join(allowed)}")
    return SourceSpec(kind, paths, options, text.strip())


def _number(spec: SourceSpec, key: str, cast, default):
    value = spec.options.get(key)
    if value is None:
        return default
    if value.lower() == "none":
        return None
    try:
        return cast(value)
    except ValueError:
        raise DataError(f"source option {key}={value!r}: expected {cast.__name__}") from None


def configs_from_spec(spec: SourceSpec) -> tuple[PreprocessConfig, DataConfig]:
    repeats = spec.options.get("repeats", "drop").lower()
    if repeats not in ("drop", "keep"):
        raise DataError(f"source option repeats={repeats!r}: expected 'drop' or 'keep'")
    seed = _number(spec, "data_seed", int, 0)
    overlap = None if spec.kind == "synthetic" else _number(spec, "overlap", float, None)
    prep = PreprocessConfig(
        rating_above=_number(spec, "min_rating", float, 2.0),
        start=_number(spec, "start", int, None),
        end=_number(spec, "end", int, None),
        drop_repeats=repeats == "drop",
        k_core=_number(spec, "k_core", int, 5),
        min_user_len=_number(spec, "min_user_len", int, 3),
        overlap=overlap,
        seed=seed,
    )
    data = DataConfig(
        max_len=_number(spec, "max_len", int, 100),
        n_negatives=_number(spec, "negatives", int, 199),
        negative_sampling=spec.options.get("sampling", "popularity"),
        seed=seed,
    )
    return prep, data


def _domain_name(path: str, fallback: str) -> str:
    """Readable domain name from a file name: 'data/Books.csv.gz' -> 'Books'."""
    from pathlib import Path

    name = Path(path).name.split(".")[0]
    return name or fallback


def read_raw(spec: SourceSpec):
    """Dispatch to the reader for `spec.kind`; returns RawCrossDomain."""
    from . import readers  # deferred: pandas/pyarrow reader stack is only needed here
    from .raw import RawCrossDomain

    if spec.kind == "synthetic":
        from .synthetic import SyntheticConfig, generate

        synth_keys = {k: v for k, v in spec.options.items() if k not in COMMON_KEYS or k == "overlap"}
        raw = generate(SyntheticConfig.from_spec(synth_keys))
    elif spec.kind == "movielens":
        raw = readers.read_movielens(spec.paths[0])
    elif spec.kind == "c2dsr":
        split = spec.options.get("split", "ours").lower()
        if split != "ours":
            raise DataError(
                f"source {spec.text!r}: split={split!r}: this version reads a C2DSR folder's "
                "interactions under our split only (split=ours); the published users and "
                "targets (split=files) are not supported yet"
            )
        raw = readers.read_c2dsr(spec.paths[0])
    else:
        a, b = spec.paths
        name_a, name_b = _domain_name(a, "A"), _domain_name(b, "B")
        if spec.kind == "csv":
            da = readers.read_table_domain(a, name=name_a)
            db = readers.read_table_domain(b, name=name_b)
        elif spec.kind == "amazon":
            da = readers.read_amazon_domain(a, name=name_a, meta_path=spec.options.get("meta_a"))
            db = readers.read_amazon_domain(b, name=name_b, meta_path=spec.options.get("meta_b"))
        else:
            da = readers.read_recbole_domain(a, name=name_a, item_path=spec.options.get("item_a"))
            db = readers.read_recbole_domain(b, name=name_b, item_path=spec.options.get("item_b"))
        raw = RawCrossDomain(da, db)
    raw.source = spec.text
    return raw


def load_source(text: str, *, quote_content: bool = True) -> CrossDomainData:
    """Parse, read, preprocess and index a source spec. Raises DataError on bad input.

    quote_content=False: error messages name file, line/row and field and say what was
    expected, but never quote the file's content (for a server reading files for others)."""
    from .readers._common import content_in_errors

    spec = parse_source(text)
    prep, data = configs_from_spec(spec)
    with content_in_errors(quote_content):
        return CrossDomainData.build(read_raw(spec), prep, data)
