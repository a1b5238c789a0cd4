"""The golden library's find_book, count_books and add_book, hand-written with `MCPServer`.

The baseline for `call_cost.py`: what a competent person writes without
mcpfactory. Tools are decorated functions with type hints, so MCPServer derives
the same input and output schemas the generated server publishes; state is one
module-level dict. The tools are `async def` because their work is in-memory and
never blocks: MCPServer 2.x runs a plain `def` tool on a worker thread
(`anyio.to_thread.run_sync`), which a careful author would not pay for here.

It does less than the generated server: one state for every client (no
per-session isolation, no reset), no record validation on write, no atomic
rollback. That is the point of the comparison: what the generated server's
guarantees cost per call.

Logging is at WARNING, the generated server's default, so neither pays for
log lines the other does not write.

    python benchmarks/_handwritten_library.py                     # stdio
    python benchmarks/_handwritten_library.py --http --port 8000  # streamable HTTP
"""

from __future__ import annotations

import argparse
from typing import Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from typing_extensions import TypedDict

Genre = Literal["fiction", "science", "history"]


class Book(TypedDict):
    book_id: str
    title: str
    genre: Genre
    copies: int


def seed_books() -> dict[str, Book]:
    """Return the golden library's seed books."""
    return {
        "b1": {"book_id": "b1", "title": "Dune", "genre": "fiction", "copies": 2},
        "b2": {"book_id": "b2", "title": "Cosmos", "genre": "science", "copies": 0},
    }


BOOKS: dict[str, Book] = seed_books()

mcp = MCPServer("library", instructions="Members may hold at most three loans at once.\n", log_level="WARNING")


@mcp.tool()
async def find_book(title: str) -> Book:
    """Find a book by its exact title."""
    for book in BOOKS.values():
        if book["title"] == title:
            return book
    raise ToolError(f"No book titled {title}.")


@mcp.tool()
async def count_books(genre: Genre) -> int:
    """Count the titles in a genre."""
    return sum(1 for book in BOOKS.values() if book["genre"] == genre)


@mcp.tool()
async def add_book(title: str, genre: Genre) -> str:
    """Add a new title to the catalogue."""
    book_id = f"b{len(BOOKS) + 1}"
    BOOKS[book_id] = {"book_id": book_id, "title": title, "genre": genre, "copies": 1}
    return book_id


def reset() -> None:
    """Put the books back to the seed (in-process benchmarks only)."""
    BOOKS.clear()
    BOOKS.update(seed_books())


def main() -> None:
    parser = argparse.ArgumentParser(description="The hand-written library baseline.")
    parser.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    if args.http:
        mcp.run("streamable-http", host="127.0.0.1", port=args.port)
    else:
        mcp.run()


if __name__ == "__main__":
    main()
