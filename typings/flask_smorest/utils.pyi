from typing import Any

# (body, status, headers) from what a view returned; status and headers are
# None when the view returned none.
def unpack_tuple_response(rv: Any) -> tuple[Any, Any, Any]: ...

# The summary (first line) and description (the rest, up to `delimiter`) of a
# view's docstring, as flask-smorest documents an operation.
def load_info_from_docstring(
    docstring: str | None, *, delimiter: str | None = ...
) -> dict[str, str]: ...
