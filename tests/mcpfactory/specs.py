"""Small spec texts shared by the compiler, runtime and error tests."""

LIBRARY = """\
name: library
description: A small lending library.
version: 1.0.0
policy: |
  Members may hold at most three loans at once.
clock: "2024-05-15T10:00:00"

types:
  Address:
    description: A postal address.
    fields:
      street: str
      city: str
      zip: {type: str, description: Five-digit postal code.}

collections:
  members:
    record: Member
    key: member_id
    fields:
      member_id: str
      name: str
      address: Address
      loans: list[str]
    seed:
      - {member_id: m1, name: Ada, address: {street: 1 Main St, city: Springfield, zip: "01101"}, loans: []}
      - {member_id: m2, name: Bo, address: {street: 2 Elm St, city: Springfield, zip: "01102"}, loans: [b2]}
  books:
    record: Book
    key: book_id
    fields:
      book_id: str
      title: str
      genre: Literal['fiction', 'science', 'history']
      copies: int
    seed:
      - {book_id: b1, title: Dune, genre: fiction, copies: 2}
      - {book_id: b2, title: Cosmos, genre: science, copies: 0}

tools:
  find_book:
    description: Find a book by its exact title.
    effect: read
    params:
      title: {type: str, description: The exact title.}
    returns: Book
    errors:
      not_found: "No book titled {title}."
    body: |
      for book in state.books.values():
          if book["title"] == title:
              return book
      raise ToolError("not_found", title=title)
    examples:
      - args: {title: Dune}
        returns: {book_id: b1, title: Dune, genre: fiction, copies: 2}
      - args: {title: Emma}
        error: not_found

  count_books:
    description: Count the titles in a genre.
    effect: read
    params:
      genre: {type: str, enum: [fiction, science, history]}
    returns: int
    body: |
      return sum(1 for book in state.books.values() if book["genre"] == genre)
    examples:
      - args: {genre: fiction}
        returns: 1

  borrow_book:
    description: Lend one copy of a book to a member.
    effect: write
    params:
      member_id: ref[members]
      book_id: ref[books]
      days: {type: int, default: 14, description: Loan length in days.}
    returns: Member
    errors:
      unknown_member: "No member {member_id}."
      unknown_book: "No book {book_id}."
      unavailable: "No copy of {book_id} is available."
      too_many: "{member_id} already holds three loans."
    body: |
      if member_id not in state.members:
          raise ToolError("unknown_member", member_id=member_id)
      if book_id not in state.books:
          raise ToolError("unknown_book", book_id=book_id)
      member = state.members.edit(member_id)
      if len(member["loans"]) >= 3:
          raise ToolError("too_many", member_id=member_id)
      member["loans"].append(book_id)
      book = state.books.edit(book_id)
      if book["copies"] < 1:
          raise ToolError("unavailable", book_id=book_id)
      book["copies"] -= 1
      return member
    examples:
      - args: {member_id: m1, book_id: b1}
        returns: {member_id: m1, name: Ada, address: {street: 1 Main St, city: Springfield, zip: "01101"}, loans: [b1]}
      - args: {member_id: m1, book_id: b2}
        error: unavailable

  add_book:
    description: Add a new title to the catalogue.
    effect: write
    params:
      title: str
      genre: Literal['fiction', 'science', 'history']
    returns: str
    body: |
      book_id = f"b{len(state.books) + 1}"
      state.books[book_id] = {"book_id": book_id, "title": title, "genre": genre, "copies": 1}
      return book_id
    examples:
      - args: {title: Emma, genre: fiction}
        returns: b3

  break_book:
    description: Corrupt a record (a deliberate bug, for tests of the fault channel).
    effect: write
    params:
      book_id: ref[books]
    returns: str
    body: |
      import json
      book = state.books.edit(book_id)
      book["copies"] = json.loads('"many"')  # Any to the type checker: only the runtime can catch it
      return "done"

  lend_and_break:
    description: Lend a book, then corrupt the member (a deliberate bug spanning two collections).
    effect: write
    params:
      book_id: ref[books]
    returns: str
    body: |
      import json
      book = state.books.edit(book_id)
      book["copies"] -= 1
      member = state.members.edit("m1")
      member["loans"] = json.loads('"not a list"')
      return "done"

  not_json:
    description: Return a value that is not JSON (a deliberate bug).
    effect: read
    returns: any
    body: |
      return {"tags": set(["a"])}

  crash:
    description: Divide by zero (a deliberate bug, for tests of the fault channel).
    effect: read
    returns: int
    body: |
      return 1 // 0

  sneaky_write:
    description: A read tool that writes (a deliberate bug).
    effect: read
    returns: str
    body: |
      state.books.edit("b1")["copies"] = 9
      return "ok"

  roll:
    description: Roll a die with the session's generator.
    effect: read
    returns: int
    body: |
      return rng.randint(1, 6)

invariants:
  - name: copies_never_negative
    check: all(book["copies"] >= 0 for book in state.books.values())
    message: A book has a negative number of copies.
  - name: loans_are_books
    check: all(loan in state.books for m in state.members.values() for loan in m["loans"])
    message: A member holds a loan of an unknown book.
"""
