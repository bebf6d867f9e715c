"""Questions and gold SQL for the example databases, written for this repository.

Each template is a (question, SQL) pair filled with several values, so the set covers counting,
filtering, ordering, grouping, joins, nesting and set operations over all three databases.
"""

from __future__ import annotations

from typing import Any

COUNTRIES = ["France", "Japan", "Brazil", "Canada", "Nigeria", "Norway", "Mexico", "India"]
CITIES = ["Lyon", "Osaka", "Recife", "Calgary", "Lagos", "Bergen", "Puebla", "Pune"]
MUSIC_GENRES = ["pop", "rock", "jazz", "folk", "hip hop"]
BOOK_GENRES = ["mystery", "science fiction", "history", "poetry", "romance", "biography"]
DEPARTMENTS = ["Physics", "Biology", "History", "Mathematics", "Music", "Economics"]

Template = tuple[str, str, list[dict[str, Any]]]

CONCERTS: list[Template] = [
    ("How many singers are there?", "SELECT count(*) FROM singer", [{}]),
    (
        "How many singers come from {c}?",
        "SELECT count(*) FROM singer WHERE country = '{c}'",
        [{"c": c} for c in COUNTRIES[:6]],
    ),
    (
        "List the names of singers who sing {g}.",
        "SELECT name FROM singer WHERE genre = '{g}'",
        [{"g": g} for g in MUSIC_GENRES],
    ),
    (
        "What is the average age of {g} singers?",
        "SELECT avg(age) FROM singer WHERE genre = '{g}'",
        [{"g": g} for g in MUSIC_GENRES[:4]],
    ),
    (
        "Show the names of singers older than {a}, oldest first.",
        "SELECT name FROM singer WHERE age > {a} ORDER BY age DESC",
        [{"a": a} for a in (40, 50, 55)],
    ),
    ("What is the name of the youngest singer?", "SELECT name FROM singer ORDER BY age ASC LIMIT 1", [{}]),
    (
        "How many concerts took place in {y}?",
        "SELECT count(*) FROM concert WHERE year = {y}",
        [{"y": y} for y in (2015, 2018, 2020, 2022)],
    ),
    (
        "List the titles of concerts held after {y}.",
        "SELECT title FROM concert WHERE year > {y}",
        [{"y": y} for y in (2019, 2021, 2023)],
    ),
    (
        "What is the capacity of the stadium in {city}?",
        "SELECT capacity FROM stadium WHERE city = '{city}'",
        [{"city": c} for c in CITIES[:4]],
    ),
    (
        "Which stadium has the largest capacity?",
        "SELECT name FROM stadium ORDER BY capacity DESC LIMIT 1",
        [{}],
    ),
    (
        "How many concerts were held in the stadium in {city}?",
        "SELECT count(*) FROM concert AS c JOIN stadium AS s ON c.stadium_id = s.stadium_id WHERE s.city = '{city}'",
        [{"city": c} for c in CITIES[:5]],
    ),
    (
        "How many singers come from each country?",
        "SELECT country, count(*) FROM singer GROUP BY country",
        [{}],
    ),
    (
        "What is the average ticket price of concerts in each year?",
        "SELECT year, avg(ticket_price) FROM concert GROUP BY year",
        [{}],
    ),
    (
        "List the names of singers who performed in the concert with id {i}.",
        "SELECT s.name FROM singer AS s JOIN performance AS p ON s.singer_id = p.singer_id WHERE p.concert_id = {i}",
        [{"i": i} for i in (1, 4, 9, 17)],
    ),
    (
        "How many performances did singers from {c} give?",
        "SELECT count(*) FROM performance AS p JOIN singer AS s ON p.singer_id = s.singer_id WHERE s.country = '{c}'",
        [{"c": c} for c in COUNTRIES[:4]],
    ),
    (
        "Which singer performed the most times?",
        "SELECT s.name FROM singer AS s JOIN performance AS p ON s.singer_id = p.singer_id GROUP BY s.singer_id ORDER BY count(*) DESC LIMIT 1",
        [{}],
    ),
    (
        "List the names of singers who never performed in a concert.",
        "SELECT name FROM singer WHERE singer_id NOT IN (SELECT singer_id FROM performance)",
        [{}],
    ),
    (
        "What is the most expensive ticket price of any concert?",
        "SELECT max(ticket_price) FROM concert",
        [{}],
    ),
    (
        "Show the titles of concerts whose ticket price is above the average ticket price.",
        "SELECT title FROM concert WHERE ticket_price > (SELECT avg(ticket_price) FROM concert)",
        [{}],
    ),
    (
        "Which cities hosted a concert in {y}?",
        "SELECT DISTINCT s.city FROM stadium AS s JOIN concert AS c ON s.stadium_id = c.stadium_id WHERE c.year = {y}",
        [{"y": y} for y in (2016, 2021)],
    ),
    ("What is the total capacity of all stadiums?", "SELECT sum(capacity) FROM stadium", [{}]),
    ("How many different genres do the singers sing?", "SELECT count(DISTINCT genre) FROM singer", [{}]),
]

LIBRARY: list[Template] = [
    ("How many books does the library have?", "SELECT count(*) FROM book", [{}]),
    (
        "How many {g} books are there?",
        "SELECT count(*) FROM book WHERE genre = '{g}'",
        [{"g": g} for g in BOOK_GENRES],
    ),
    (
        "List the titles of books published after {y}.",
        "SELECT title FROM book WHERE year > {y}",
        [{"y": y} for y in (2010, 2018, 2020)],
    ),
    (
        "What is the average number of pages of {g} books?",
        "SELECT avg(pages) FROM book WHERE genre = '{g}'",
        [{"g": g} for g in BOOK_GENRES[:4]],
    ),
    ("What is the title of the longest book?", "SELECT title FROM book ORDER BY pages DESC LIMIT 1", [{}]),
    ("What is the title of the cheapest book?", "SELECT title FROM book ORDER BY price ASC LIMIT 1", [{}]),
    (
        "List the names of authors from {c}.",
        "SELECT name FROM author WHERE nationality = '{c}'",
        [{"c": c} for c in COUNTRIES[:5]],
    ),
    (
        "How many authors were born before {y}?",
        "SELECT count(*) FROM author WHERE birth_year < {y}",
        [{"y": y} for y in (1920, 1950, 1970)],
    ),
    (
        "How many books were written by authors from {c}?",
        "SELECT count(*) FROM book AS b JOIN author AS a ON b.author_id = a.author_id WHERE a.nationality = '{c}'",
        [{"c": c} for c in COUNTRIES[:5]],
    ),
    (
        "List the titles of books written by the author with id {i}.",
        "SELECT title FROM book WHERE author_id = {i}",
        [{"i": i} for i in (2, 5, 11)],
    ),
    (
        "How many members live in {city}?",
        "SELECT count(*) FROM member WHERE city = '{city}'",
        [{"city": c} for c in CITIES[:5]],
    ),
    (
        "List the names of members who joined after {y}.",
        "SELECT name FROM member WHERE joined_year > {y}",
        [{"y": y} for y in (2015, 2020)],
    ),
    ("How many loans have not been returned?", "SELECT count(*) FROM loan WHERE returned = 0", [{}]),
    (
        "How many loans were made in {y}?",
        "SELECT count(*) FROM loan WHERE loan_year = {y}",
        [{"y": y} for y in (2016, 2019, 2023)],
    ),
    ("How many books are there in each genre?", "SELECT genre, count(*) FROM book GROUP BY genre", [{}]),
    (
        "Which author has written the most books?",
        "SELECT a.name FROM author AS a JOIN book AS b ON a.author_id = b.author_id GROUP BY a.author_id ORDER BY count(*) DESC LIMIT 1",
        [{}],
    ),
    (
        "List the names of members who borrowed a {g} book.",
        "SELECT DISTINCT m.name FROM member AS m JOIN loan AS l ON m.member_id = l.member_id JOIN book AS b ON l.book_id = b.book_id WHERE b.genre = '{g}'",
        [{"g": g} for g in BOOK_GENRES[:3]],
    ),
    (
        "Which book has been borrowed the most times?",
        "SELECT b.title FROM book AS b JOIN loan AS l ON b.book_id = l.book_id GROUP BY b.book_id ORDER BY count(*) DESC LIMIT 1",
        [{}],
    ),
    (
        "List the titles of books that have never been borrowed.",
        "SELECT title FROM book WHERE book_id NOT IN (SELECT book_id FROM loan)",
        [{}],
    ),
    (
        "What is the average price of books in each genre?",
        "SELECT genre, avg(price) FROM book GROUP BY genre",
        [{}],
    ),
    (
        "List the titles of books priced above {p} dollars, most expensive first.",
        "SELECT title FROM book WHERE price > {p} ORDER BY price DESC",
        [{"p": p} for p in (40, 50, 55)],
    ),
    ("How many distinct members have borrowed books?", "SELECT count(DISTINCT member_id) FROM loan", [{}]),
]

SCHOOL: list[Template] = [
    ("How many students are there?", "SELECT count(*) FROM student", [{}]),
    (
        "How many students are in year {y}?",
        "SELECT count(*) FROM student WHERE year = {y}",
        [{"y": y} for y in (1, 2, 3, 4)],
    ),
    (
        "List the names of students with a GPA above {g}.",
        "SELECT name FROM student WHERE gpa > {g}",
        [{"g": g} for g in (3.5, 3.8)],
    ),
    (
        "What is the average GPA of students majoring in {d}?",
        "SELECT avg(s.gpa) FROM student AS s JOIN department AS d ON s.major_dept_id = d.dept_id WHERE d.name = '{d}'",
        [{"d": d} for d in DEPARTMENTS],
    ),
    (
        "How many instructors work in the {d} department?",
        "SELECT count(*) FROM instructor AS i JOIN department AS d ON i.dept_id = d.dept_id WHERE d.name = '{d}'",
        [{"d": d} for d in DEPARTMENTS[:5]],
    ),
    (
        "What is the budget of the {d} department?",
        "SELECT budget FROM department WHERE name = '{d}'",
        [{"d": d} for d in DEPARTMENTS[:4]],
    ),
    (
        "Which department has the largest budget?",
        "SELECT name FROM department ORDER BY budget DESC LIMIT 1",
        [{}],
    ),
    (
        "List the names of instructors hired after {y}.",
        "SELECT name FROM instructor WHERE hire_year > {y}",
        [{"y": y} for y in (2010, 2018)],
    ),
    (
        "What is the name of the highest paid instructor?",
        "SELECT name FROM instructor ORDER BY salary DESC LIMIT 1",
        [{}],
    ),
    (
        "What is the average salary of instructors in each department?",
        "SELECT d.name, avg(i.salary) FROM instructor AS i JOIN department AS d ON i.dept_id = d.dept_id GROUP BY d.dept_id",
        [{}],
    ),
    (
        "List the titles of courses worth {c} credits.",
        "SELECT title FROM course WHERE credits = {c}",
        [{"c": c} for c in (2, 3, 4, 5)],
    ),
    (
        "How many courses does the {d} department offer?",
        "SELECT count(*) FROM course AS c JOIN department AS d ON c.dept_id = d.dept_id WHERE d.name = '{d}'",
        [{"d": d} for d in DEPARTMENTS[:4]],
    ),
    (
        "How many students are enrolled in the course with id {i}?",
        "SELECT count(*) FROM enrollment WHERE course_id = {i}",
        [{"i": i} for i in (3, 7, 12, 20)],
    ),
    (
        "List the names of students who got an A in any course.",
        "SELECT DISTINCT s.name FROM student AS s JOIN enrollment AS e ON s.student_id = e.student_id WHERE e.grade = 'A'",
        [{}],
    ),
    (
        "Which course has the most enrolled students?",
        "SELECT c.title FROM course AS c JOIN enrollment AS e ON c.course_id = e.course_id GROUP BY c.course_id ORDER BY count(*) DESC LIMIT 1",
        [{}],
    ),
    ("How many students received each grade?", "SELECT grade, count(*) FROM enrollment GROUP BY grade", [{}]),
    (
        "List the names of students who are not enrolled in any course.",
        "SELECT name FROM student WHERE student_id NOT IN (SELECT student_id FROM enrollment)",
        [{}],
    ),
    (
        "List the titles of courses taught by instructors in the {d} department.",
        "SELECT c.title FROM course AS c JOIN instructor AS i ON c.instructor_id = i.instructor_id JOIN department AS d ON i.dept_id = d.dept_id WHERE d.name = '{d}'",
        [{"d": d} for d in DEPARTMENTS[:3]],
    ),
    ("What is the total number of credits of all courses?", "SELECT sum(credits) FROM course", [{}]),
    (
        "Which departments are located in {b}?",
        "SELECT name FROM department WHERE building = '{b}'",
        [{"b": b} for b in ("North Hall", "Lab Block", "Old Wing", "Tower")],
    ),
    (
        "How many students major in each department?",
        "SELECT d.name, count(*) FROM student AS s JOIN department AS d ON s.major_dept_id = d.dept_id GROUP BY d.dept_id",
        [{}],
    ),
    (
        "List the names of instructors who earn more than the average instructor salary.",
        "SELECT name FROM instructor WHERE salary > (SELECT avg(salary) FROM instructor)",
        [{}],
    ),
]


def _expand(db_id: str, templates: list[Template]) -> list[dict[str, Any]]:
    out = []
    for question, query, values in templates:
        for value in values:
            out.append({"db_id": db_id, "question": question.format(**value), "query": query.format(**value)})
    return out


QUESTIONS: list[dict[str, Any]] = (
    _expand("concerts", CONCERTS) + _expand("library", LIBRARY) + _expand("school", SCHOOL)
)
