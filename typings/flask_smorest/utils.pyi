from typing import Any

# (body, status, headers) from what a view returned; status and headers are
# None when the view returned none.
def unpack_tuple_response(rv: Any) -> tuple[Any, Any, Any]: ...
