"""Build the example's SQLite databases and its question set (run once; outputs are committed).

    python -m spider_agent.build_data

Three small databases in Spider's style (``concerts``, ``library``, ``school``), filled from a
seeded generator so they rebuild identically, and questions with gold SQL written for this
repository from per-database templates (every gold query is executed here; a query that fails
or returns nothing stops the build).
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

from .questions import QUESTIONS

DATA = Path(__file__).resolve().parent / "data"

SCHEMAS = {
    "concerts": """
CREATE TABLE singer (singer_id INTEGER PRIMARY KEY, name TEXT, country TEXT, age INTEGER, genre TEXT);
CREATE TABLE stadium (stadium_id INTEGER PRIMARY KEY, name TEXT, city TEXT, capacity INTEGER);
CREATE TABLE concert (concert_id INTEGER PRIMARY KEY, title TEXT, stadium_id INTEGER REFERENCES stadium(stadium_id), year INTEGER, ticket_price REAL);
CREATE TABLE performance (concert_id INTEGER REFERENCES concert(concert_id), singer_id INTEGER REFERENCES singer(singer_id), slot INTEGER);
""",
    "library": """
CREATE TABLE author (author_id INTEGER PRIMARY KEY, name TEXT, nationality TEXT, birth_year INTEGER);
CREATE TABLE book (book_id INTEGER PRIMARY KEY, title TEXT, author_id INTEGER REFERENCES author(author_id), genre TEXT, year INTEGER, pages INTEGER, price REAL);
CREATE TABLE member (member_id INTEGER PRIMARY KEY, name TEXT, city TEXT, joined_year INTEGER);
CREATE TABLE loan (loan_id INTEGER PRIMARY KEY, book_id INTEGER REFERENCES book(book_id), member_id INTEGER REFERENCES member(member_id), loan_year INTEGER, returned INTEGER);
""",
    "school": """
CREATE TABLE department (dept_id INTEGER PRIMARY KEY, name TEXT, building TEXT, budget INTEGER);
CREATE TABLE instructor (instructor_id INTEGER PRIMARY KEY, name TEXT, dept_id INTEGER REFERENCES department(dept_id), salary INTEGER, hire_year INTEGER);
CREATE TABLE course (course_id INTEGER PRIMARY KEY, title TEXT, dept_id INTEGER REFERENCES department(dept_id), credits INTEGER, instructor_id INTEGER REFERENCES instructor(instructor_id));
CREATE TABLE student (student_id INTEGER PRIMARY KEY, name TEXT, major_dept_id INTEGER REFERENCES department(dept_id), year INTEGER, gpa REAL);
CREATE TABLE enrollment (student_id INTEGER REFERENCES student(student_id), course_id INTEGER REFERENCES course(course_id), grade TEXT);
""",
}

FIRST = [
    "Ada",
    "Ben",
    "Cleo",
    "Dev",
    "Eva",
    "Finn",
    "Gia",
    "Hugo",
    "Iris",
    "Jon",
    "Kai",
    "Lia",
    "Milo",
    "Nia",
    "Omar",
    "Pia",
    "Quinn",
    "Rosa",
    "Sami",
    "Tess",
    "Uma",
    "Vik",
    "Wen",
    "Yara",
    "Zed",
]
LAST = [
    "Stone",
    "Rivera",
    "Kim",
    "Novak",
    "Okafor",
    "Berg",
    "Silva",
    "Haas",
    "Ito",
    "Moreau",
    "Quist",
    "Duarte",
]
COUNTRIES = ["France", "Japan", "Brazil", "Canada", "Nigeria", "Norway", "Mexico", "India"]
CITIES = ["Lyon", "Osaka", "Recife", "Calgary", "Lagos", "Bergen", "Puebla", "Pune"]


def _names(r: random.Random, n: int) -> list[str]:
    pool = [f"{first} {last}" for first in FIRST for last in LAST]
    r.shuffle(pool)
    return pool[:n]


def _concerts(db: sqlite3.Connection, r: random.Random) -> None:
    genres = ["pop", "rock", "jazz", "folk", "hip hop"]
    for i, name in enumerate(_names(r, 30), 1):
        db.execute(
            "INSERT INTO singer VALUES (?,?,?,?,?)",
            (i, name, r.choice(COUNTRIES), r.randint(19, 64), r.choice(genres)),
        )
    for i, city in enumerate(CITIES, 1):
        db.execute(
            "INSERT INTO stadium VALUES (?,?,?,?)", (i, f"{city} Arena", city, r.randrange(5000, 80000, 500))
        )
    words = ["Summer", "Night", "Echo", "River", "Neon", "Golden", "Winter", "Skyline", "Harbor", "Velvet"]
    for i in range(1, 41):
        title = f"{r.choice(words)} {r.choice(['Tour', 'Festival', 'Live', 'Sessions'])} {i}"
        db.execute(
            "INSERT INTO concert VALUES (?,?,?,?,?)",
            (i, title, r.randint(1, 8), r.randint(2012, 2024), round(r.uniform(20, 180), 2)),
        )
        for slot, singer in enumerate(r.sample(range(1, 25), r.randint(1, 4)), 1):
            db.execute("INSERT INTO performance VALUES (?,?,?)", (i, singer, slot))


def _library(db: sqlite3.Connection, r: random.Random) -> None:
    genres = ["mystery", "science fiction", "history", "poetry", "romance", "biography"]
    for i, name in enumerate(_names(r, 20), 1):
        db.execute(
            "INSERT INTO author VALUES (?,?,?,?)", (i, name, r.choice(COUNTRIES), r.randint(1890, 1990))
        )
    nouns = ["Garden", "Map", "Storm", "Letter", "Mirror", "Orchard", "Signal", "Lantern", "Island", "Clock"]
    adjectives = ["Silent", "Last", "Hidden", "Blue", "Distant", "Broken", "Quiet", "Second", "Paper", "Iron"]
    titles = [f"The {a} {n}" for a in adjectives for n in nouns]
    r.shuffle(titles)
    for i in range(1, 81):
        db.execute(
            "INSERT INTO book VALUES (?,?,?,?,?,?,?)",
            (
                i,
                titles[i],
                r.randint(1, 20),
                r.choice(genres),
                r.randint(1950, 2023),
                r.randint(90, 900),
                round(r.uniform(5, 60), 2),
            ),
        )
    for i, name in enumerate(_names(r, 25), 1):
        db.execute("INSERT INTO member VALUES (?,?,?,?)", (i, name, r.choice(CITIES), r.randint(2005, 2024)))
    for i in range(1, 151):
        db.execute(
            "INSERT INTO loan VALUES (?,?,?,?,?)",
            (i, r.randint(1, 80), r.randint(1, 25), r.randint(2015, 2024), int(r.random() < 0.8)),
        )


def _school(db: sqlite3.Connection, r: random.Random) -> None:
    depts = ["Physics", "Biology", "History", "Mathematics", "Music", "Economics"]
    for i, name in enumerate(depts, 1):
        db.execute(
            "INSERT INTO department VALUES (?,?,?,?)",
            (
                i,
                name,
                r.choice(["North Hall", "Lab Block", "Old Wing", "Tower"]),
                r.randrange(200000, 2000000, 10000),
            ),
        )
    for i, name in enumerate(_names(r, 18), 1):
        db.execute(
            "INSERT INTO instructor VALUES (?,?,?,?,?)",
            (i, name, r.randint(1, 6), r.randrange(50000, 160000, 1000), r.randint(1995, 2023)),
        )
    topics = ["Introduction to", "Advanced", "Topics in", "Seminar on", "Methods of"]
    for i in range(1, 31):
        dept = r.randint(1, 6)
        db.execute(
            "INSERT INTO course VALUES (?,?,?,?,?)",
            (i, f"{r.choice(topics)} {depts[dept - 1]} {i}", dept, r.choice([2, 3, 4, 5]), r.randint(1, 18)),
        )
    for i, name in enumerate(_names(r, 60), 1):
        db.execute(
            "INSERT INTO student VALUES (?,?,?,?,?)",
            (i, name, r.randint(1, 6), r.randint(1, 4), round(r.uniform(2.0, 4.0), 2)),
        )
    pairs: set[tuple[int, int]] = set()
    while len(pairs) < 200:
        pairs.add((r.randint(1, 60), r.randint(1, 30)))
    for student, course in sorted(pairs):
        db.execute(
            "INSERT INTO enrollment VALUES (?,?,?)", (student, course, r.choice(["A", "B", "C", "D", "F"]))
        )


FILLERS = {"concerts": _concerts, "library": _library, "school": _school}


def build_databases(target: Path = DATA) -> dict[str, Path]:
    target.mkdir(parents=True, exist_ok=True)
    paths = {}
    for index, (db_id, schema) in enumerate(SCHEMAS.items()):
        path = target / f"{db_id}.sqlite"
        path.unlink(missing_ok=True)
        with sqlite3.connect(path) as db:
            db.executescript(schema)
            FILLERS[db_id](db, random.Random(1000 + index))
        paths[db_id] = path
    return paths


def main() -> None:
    paths = build_databases()
    checked = []
    for item in QUESTIONS:
        with sqlite3.connect(paths[item["db_id"]]) as db:
            rows = db.execute(item["query"]).fetchall()
        if not rows or rows == [(0,)] or rows == [(None,)]:
            raise SystemExit(f"gold query returns nothing useful: {item}")
        checked.append(item)
    (DATA / "questions.json").write_text(json.dumps(checked, indent=1) + "\n")
    print(f"{len(paths)} databases, {len(checked)} questions with gold SQL in {DATA}")


if __name__ == "__main__":
    main()
