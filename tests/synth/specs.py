"""Drafts a scripted model sends: one good spec and broken variants of it, each broken in one way."""

from __future__ import annotations

GOOD = """\
name: shelf
description: A small lending shelf of board games shared by neighbours.
version: 1.0.0
policy: |
  Members may hold at most two games at once. Look games up by title with find_game.
clock: "2024-05-15T10:00:00"
collections:
  games:
    record: Game
    key: game_id
    fields:
      game_id: str
      title: str
      players: {type: int, description: Most players at one table.}
      copies: int
    seed:
      - {game_id: g1, title: Catan, players: 4, copies: 2}
      - {game_id: g2, title: Azul, players: 4, copies: 1}
      - {game_id: g3, title: Carcassonne, players: 5, copies: 0}
  members:
    record: Member
    key: member_id
    fields:
      member_id: str
      name: str
      loans: list[str]
    seed:
      - {member_id: m1, name: Ada, loans: []}
      - {member_id: m2, name: Grace, loans: [g1, g2]}
tools:
  find_game:
    description: Find a game by its exact title.
    effect: read
    params:
      title: {type: str, description: The exact title.}
    returns: Game
    errors:
      not_found: "No game titled {title}."
    body: |
      for game in state.games.values():
          if game["title"] == title:
              return game
      raise ToolError("not_found", title=title)
    examples:
      - args: {title: Azul}
        returns: {game_id: g2, title: Azul, players: 4, copies: 1}
      - args: {title: Chess}
        error: not_found
  borrow_game:
    description: Lend one copy of a game to a member.
    effect: write
    params:
      member_id: ref[members]
      game_id: ref[games]
    returns: Member
    errors:
      unknown_member: "No member {member_id}."
      unknown_game: "No game {game_id}."
      unavailable: "No copy of {game_id} is left."
      too_many: "{name} already holds two games."
    body: |
      if member_id not in state.members:
          raise ToolError("unknown_member", member_id=member_id)
      if game_id not in state.games:
          raise ToolError("unknown_game", game_id=game_id)
      member = state.members.edit(member_id)
      if len(member["loans"]) >= 2:
          raise ToolError("too_many", name=member["name"])
      game = state.games.edit(game_id)
      if game["copies"] < 1:
          raise ToolError("unavailable", game_id=game_id)
      game["copies"] -= 1
      member["loans"].append(game_id)
      return member
    examples:
      - args: {member_id: m1, game_id: g1}
        returns: {member_id: m1, name: Ada, loans: [g1]}
      - args: {member_id: m1, game_id: g3}
        error: unavailable
      - args: {member_id: m2, game_id: g1}
        error: too_many
invariants:
  - name: copies_never_negative
    check: all(game["copies"] >= 0 for game in state.games.values())
    message: A game has a negative number of copies.
"""

# Each variant breaks GOOD in one way a model typically does.
BAD_TYPE = GOOD.replace(
    "      players: {type: int, description: Most players at one table.}",
    "      players: {type: integr, description: Most players at one table.}",
)
FORBIDDEN_IMPORT = GOOD.replace(
    '      for game in state.games.values():\n          if game["title"] == title:',
    '      import os\n      for game in state.games.values():\n          if game["title"] == title:',
)
FAILING_EXAMPLE = GOOD.replace(
    "        returns: {game_id: g2, title: Azul, players: 4, copies: 1}",
    "        returns: {game_id: g2, title: Azul, players: 4, copies: 3}",
)
CRASHING_BODY = GOOD.replace(
    '      game["copies"] -= 1\n',
    '      game["copies"] -= 1\n      ratio = 1 / (game["copies"] - game["copies"])\n',
)


def fenced(spec: str) -> str:
    """A reply as a model writes it: a sentence, then the spec in a yaml fence."""
    return f"Here is the spec.\n\n```yaml\n{spec}```\n"
