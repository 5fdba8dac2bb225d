from typing import Any

import wtforms

# wtforms is untyped (see __init__.pyi), so these bases are Any.
from wtforms.validators import DataRequired

class FileField(wtforms.FileField): ...  # type: ignore[misc]
class MultipleFileField(wtforms.MultipleFileField): ...  # type: ignore[misc]

class FileRequired(DataRequired):  # type: ignore[misc]
    def __init__(self, message: str | None = None) -> None: ...

class FileAllowed:
    def __init__(self, upload_set: Any, message: str | None = None) -> None: ...
    def __call__(self, form: Any, field: Any) -> None: ...

class FileSize:
    def __init__(self, max_size: int, min_size: int = 0, message: str | None = None) -> None: ...
    def __call__(self, form: Any, field: Any) -> None: ...
