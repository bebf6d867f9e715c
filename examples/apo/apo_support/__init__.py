"""A support-ticket router whose accuracy depends on its prompt, with 180 labelled tickets."""

from .agent import INITIAL_PROMPT, TEAMS, parse_team, route_ticket
from .data import load_tickets

__all__ = ["INITIAL_PROMPT", "TEAMS", "load_tickets", "parse_team", "route_ticket"]
