"""Our `_Limiter` overrides Flask-Limiter's own methods by name to skip work a
request without a limit does not need. Should Flask-Limiter rename them, the
overrides would silently stop applying (behaviour stays right, the saving goes):
this says so at once, on the upgrade that renames them."""

from flask_limiter import Limiter

from licensing.extensions import _Limiter


def test_every_method_the_limiter_overrides_still_exists_in_flask_limiter() -> None:
    overridden = {
        name
        for name, value in vars(_Limiter).items()
        if callable(value) or isinstance(value, property)
        if not name.startswith("__") and name != "_has_request_state"
    }
    assert overridden, "the subclass overrides nothing"
    assert {name for name in overridden if not hasattr(Limiter, name)} == set()
